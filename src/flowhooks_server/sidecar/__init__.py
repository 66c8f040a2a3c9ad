"""The Envoy sidecar: renders its config and runs the real binary next to the gRPC server."""

from flowhooks_server.sidecar.envoy import EnvoyError, EnvoyProcess, find_envoy, render_config

__all__ = ["EnvoyError", "EnvoyProcess", "find_envoy", "render_config"]
