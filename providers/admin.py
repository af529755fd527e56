"""Admin of the providers app."""
