"""Loaded at start-up by the Python of the stack that tests/envoy/test_openapi_fuzz.py fuzzes
(through PYTHONPATH): that process looks up no name and connects nowhere but this machine's
loopback.

The fuzzer creates webhooks and subscriptions with URLs it makes up, and can start runs whose
events would be delivered to them: without this, the delivery worker could resolve made-up
names through the network's DNS server, or connect to a public address it was given. Here every
such attempt fails at once, as a `network` failure of the delivery (logged, retried, diverted),
which is all the fuzzer needs to see.
"""

from __future__ import annotations

import ipaddress
import socket

_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r}: no name lookups in this test stack")
    return _getaddrinfo(host, *args, **kwargs)


def _allowed(sock: socket.socket, address) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return True
    return _loopback(address[0])


def connect(self, address):
    if not _allowed(self, address):
        raise ConnectionRefusedError(f"{address!r}: this test stack connects to loopback only")
    return _connect(self, address)


def connect_ex(self, address):
    if not _allowed(self, address):
        return 111  # ECONNREFUSED
    return _connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
