"""``python -m pulumi_azure_elastic_jobs.emulator``: the same as the ``elastic-jobs-emulator`` command."""

from .cli import main

main()
