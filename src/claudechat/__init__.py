"""claudechat: a terminal chat for Claude."""

__version__ = "0.1.0"
