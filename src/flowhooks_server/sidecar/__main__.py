"""`python -m flowhooks_server.sidecar`: print the Envoy config for the FLOWHOOKS_* environment."""

import sys

from flowhooks_server.config import Settings
from flowhooks_server.sidecar.envoy import render_config

s = Settings.from_env()
sys.stdout.write(render_config(s.grpc_port, s.http_port, s.envoy_admin_port))
