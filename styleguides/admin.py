"""Admin of the styleguides app."""
