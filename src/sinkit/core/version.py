"""sinkit's version, in one place (``pyproject.toml`` reads it; checkpoints record it)."""

__version__ = "0.2.0"
