"""sitegen: a static news website generator."""

__version__ = "0.1.0"
