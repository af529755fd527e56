"""Admin of the analytics app."""
