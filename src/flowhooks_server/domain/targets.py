"""Which delivery targets are allowed (SPEC §8.11): https only, and never an address that is
loopback, private, link-local, multicast or reserved. Used at creation on literal addresses,
and by the delivery worker on the address it actually connects to."""

from __future__ import annotations

import ipaddress
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
    if host == "localhost" or host.endswith(".localhost"):
        return "must not point at localhost"
    try:
        refusal = address_refusal(host)
    except ValueError:
        return None  # a hostname: checked again on the address connected to
    return f"must not point at a non-public address: {refusal}" if refusal else None
