"""``python -m pulumi_azure_elastic_jobs.native <engine address>``: the plugin, without its console script."""

from .main import main

main()
