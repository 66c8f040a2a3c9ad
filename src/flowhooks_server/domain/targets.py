"""Which delivery targets are allowed (SPEC §8.11): https only, and never an address that is
loopback, private, link-local, multicast or reserved. Used at creation on literal addresses,
and by the delivery worker on the address it actually connects to."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL = 2048


def address_refusal(address: str) -> str | None:
    """Why connecting to this IP address is refused, or None if it is a public address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind, flagged in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if flagged:
            return f"{address} is a {kind} address"
    return None


def url_refusal(url: str, allow_insecure: bool) -> str | None:
    """Why this URL cannot be a delivery target, or None when it can."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an absolute https:// URL with a host"
    if allow_insecure:
        return None
    if parts.scheme != "https":
        return "must use https://"
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return "must not point at localhost"
    address = literal_address(host)
    if address is None:
        return None  # a hostname: checked again on the address connected to
    refusal = address_refusal(address)
    return f"must not point at a non-public address: {refusal}" if refusal else None


def literal_address(host: str) -> str | None:
    """The IP address a host names literally, old numeric IPv4 forms (`127.1`, `2130706433`,
    `0x7f.1`) included, as resolvers read them; None for a hostname."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if all(part and (part.isdigit() or part.lower().startswith("0x")) for part in host.split(".")):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None
