"""``python -m elastic_jobs_emulator``: the same as the ``elastic-jobs-emulator`` command."""

from .cli import main

main()
