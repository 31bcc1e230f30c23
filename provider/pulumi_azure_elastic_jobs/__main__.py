"""``python -m pulumi_azure_elastic_jobs <engine address>``: the native provider plugin, run from source.

Pulumi's Python language host runs a plugin folder with a buildable ``pyproject.toml`` (this repository, with its
``PulumiPlugin.yaml``) as ``python -m pulumi.run.plugin pulumi-azure-elastic-jobs <args>``, which runs this module
when the package exports no components; so this is the plugin's entry point under ``pulumi package add``.
"""

from .native.main import main

main()
