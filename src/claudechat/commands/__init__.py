"""Command groups registered from cli.py, each in its own module."""
