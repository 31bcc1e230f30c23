"""The emulator's version: released together with the provider, at the same number."""

__version__ = "0.1.0"
