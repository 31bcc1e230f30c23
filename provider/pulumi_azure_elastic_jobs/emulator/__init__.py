"""The local ARM emulator of Azure SQL Elastic Jobs: routes (app), rules (backend), state (store),
job lifecycle (engine), faults, admin API, seeding, and the server/CLI that run it.

It shares ``models`` and ``ids`` with the client, so both speak the same wire format, and never imports the
client. Start it with ``elastic-jobs-emulator`` or ``with Emulator() as emulator: ...``.
"""

from .server import DEFAULT_SUBSCRIPTION, DEFAULT_TOKEN, Emulator, EmulatorOptions

__all__ = ["DEFAULT_SUBSCRIPTION", "DEFAULT_TOKEN", "Emulator", "EmulatorOptions"]
