"""Tools for working on this project (not used by the deploy)."""
