"""Admin of the generations app."""
