"""clvlib."""
