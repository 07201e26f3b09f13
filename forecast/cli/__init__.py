"""Layer 8: the command line and what it prints."""
