"""Started by Pulumi's Python language host (``python -m pulumi.policy <engine> <this folder>``): serve the pack."""

from pulumi_azure_elastic_jobs.policy.pack import serve

serve()
