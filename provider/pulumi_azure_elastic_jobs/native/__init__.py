"""The native plugin face: ``pulumi-resource-azure-elastic-jobs``, serving package ``azure-elastic-jobs``.

A provider plugin any Pulumi language can use (YAML, TypeScript, Go, Python, ...), over the same core as the
dynamic provider (:mod:`..operations`): ``schema`` is generated from :mod:`..catalog`, ``provider`` translates
the engine's camelCase property values to the core's snake_case maps and back, ``main`` serves it over gRPC.
"""
