"""Models of the generations app."""
