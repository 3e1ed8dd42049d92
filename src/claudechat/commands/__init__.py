"""CLI commands kept out of cli.py, each module adding its commands to the Typer app."""
