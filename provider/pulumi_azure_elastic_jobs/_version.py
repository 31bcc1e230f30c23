"""The package version, in a module of its own so that the client can name it without importing pulumi."""

__version__ = "0.1.0"
