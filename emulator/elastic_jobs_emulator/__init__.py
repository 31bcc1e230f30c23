"""The local ARM emulator of Azure SQL Elastic Jobs: routes (app), rules (backend), state (store),
job lifecycle (engine), faults, admin API, seeding, and the server/CLI that run it.

A distribution of its own (``elastic-jobs-emulator``, installed by the provider's ``emulator`` extra). It shares
the wire models (``models``, ``ids``, ``terms``) with the provider's client, so both speak the same wire format,
and never imports the client. Start it with ``elastic-jobs-emulator`` or ``with Emulator() as emulator: ...``.
"""

from ._version import __version__
from .server import DEFAULT_SUBSCRIPTION, DEFAULT_TOKEN, Emulator, EmulatorOptions

__all__ = ["DEFAULT_SUBSCRIPTION", "DEFAULT_TOKEN", "Emulator", "EmulatorOptions", "__version__"]
