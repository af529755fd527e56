"""Models of the styleguides app."""
