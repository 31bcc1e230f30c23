"""The native plugin face: the provider served over gRPC (``main``) and its installation (``install``)."""
