"""The emulator's tests use the repository's fixtures: an emulator seeded with examples/seed.yaml over a real
socket, and the provider's client as one of its two clients (azure-mgmt-sql is the other)."""

from tests.conftest import _clean_faults, client, emulator, own_client, own_emulator, strict_emulator

__all__ = ["_clean_faults", "client", "emulator", "own_client", "own_emulator", "strict_emulator"]
