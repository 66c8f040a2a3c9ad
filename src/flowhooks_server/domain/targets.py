"""Which delivery targets are allowed (SPEC §8.11), and the one reading of a target URL that
both the check and the connection use.

Every parser reads a host a little differently: urllib keeps `１２７.０.０.１` as it is, yarl
maps it (UTS #46) to `127.0.0.1`, getaddrinfo reads `127.1` and `0x7f.1` as `127.0.0.1`. A guard
that checks one reading while the HTTP client connects to another is no guard. So a URL is
parsed once, here, into a `Target`: scheme, an ASCII host, a port and an ASCII path+query.
The host is percent-decoded, mapped with UTS #46 (which folds case, fullwidth and circled
digits, `。`/`．`/`｡` full stops, and NFKC compatibility forms), and must then be either

- an IP literal: IPv4 in any form that resolvers accept (`127.1`, `2130706433`, `0x7f.1`,
  `0177.0.0.1`; WHATWG's rule: a host whose last label is a number is IPv4 or nothing),
  written back as a dotted quad; or a bracketed IPv6 address, with or without a `%zone`;
- or a DNS name of LDH labels (A-labels for international names), at most 63 characters a
  label and 253 in all.

Anything else (`_`, spaces, `%zz`, a stray `\\`, credentials) is refused, not guessed at.
`Target.url` is the canonical URL, which the sender hands to aiohttp as already encoded, so
the address that was checked is the address connected to.

`address_refusal` holds the catalogue of refused addresses, spelled out rather than read from
`ipaddress` flags (which change between Python versions; `is_global` is only a last catch-all
for reserved space the list does not name); IPv4 embedded in IPv6 (mapped,
compatible, 6to4, NAT64) is judged by the embedded address. Refusals name the rule, never the
outcome of a connection, so the guard cannot be used to probe ports. Names are judged when
they are resolved, on each address (delivery/sender.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import idna

MAX_URL = 2048
MAX_NAME = 253
MAX_LABEL = 63
DEFAULT_PORTS = {"https": 443, "http": 80}
INSECURE_SETTING = "FLOWHOOKS_ALLOW_INSECURE_TARGETS"
LOCAL_HINT = f" ({INSECURE_SETTING}=1 allows local receivers for development)"

_V4 = IPv4Network
_V6 = IPv6Network
IPV4_REFUSED = (
    (_V4("0.0.0.0/8"), "this network"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared address space, CGNAT"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "limited broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)
# Checked before the embeddings: `::` and `::1` are also in ::/96.
IPV6_EXACT = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
)


def _low32(ip: IPv6Address) -> IPv4Address:
    return IPv4Address(int(ip) & 0xFFFF_FFFF)


def _sixtofour(ip: IPv6Address) -> IPv4Address:
    return IPv4Address((int(ip) >> 80) & 0xFFFF_FFFF)  # bytes 2..6


IPV6_EMBEDDING = (
    (_V6("::ffff:0:0/96"), "IPv4-mapped", _low32),
    (_V6("::ffff:0:0:0/96"), "IPv4-translated", _low32),
    (_V6("64:ff9b::/96"), "NAT64", _low32),
    (_V6("2002::/16"), "6to4", _sixtofour),
    (_V6("::/96"), "IPv4-compatible", _low32),
)
IPV6_REFUSED = (
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("fc00::/7"), "unique local, private"),
    (_V6("ff00::/8"), "multicast"),
    (_V6("100::/64"), "discard-only"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("2001::/32"), "Teredo"),
    (_V6("2001:2::/48"), "benchmarking"),
    (_V6("2001:10::/28"), "ORCHID"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
)
GLOBAL_UNICAST = _V6("2000::/3")


class TargetError(ValueError):
    """A URL that cannot be read as a delivery target; the message completes "the URL ..."."""


@dataclass(frozen=True)
class Target:
    """A target URL as it will be connected to. `host` is ASCII and lower-case: a DNS name, a
    dotted-quad IPv4 address or an IPv6 address (no brackets; `zone` apart)."""

    scheme: str
    host: str
    port: int
    path: str  # path and ?query, percent-encoded ASCII; no fragment
    address: IPv4Address | IPv6Address | None = None  # set when the host is an IP literal
    zone: str = ""
    spelled: str = ""  # the host as written, for messages

    @property
    def url(self) -> str:
        if isinstance(self.address, IPv6Address):
            zone = "%25" + _quote(self.zone, _UNRESERVED) if self.zone else ""
            host = f"[{self.host}{zone}]"
        else:
            host = self.host
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


def parse_target(url: str) -> Target:
    """The one reading of a target URL; raises TargetError for anything else."""
    if any(ch <= " " or ch == "\x7f" for ch in url):
        raise TargetError("is not a valid URL (it contains a space or a control character)")
    if any("\ud800" <= ch <= "\udfff" for ch in url):
        raise TargetError("is not a valid URL (it is not valid Unicode)")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise TargetError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        raise TargetError("must be an absolute https:// URL with a host")
    if "@" in parts.netloc:
        raise TargetError("must not carry credentials (user:password@); send them in a header")
    if "\\" in parts.netloc:
        raise TargetError("is not a valid URL (a backslash in the host)")
    spelled, port_text = _split_port(parts.netloc)
    port = _port(port_text, parts.scheme)
    path = _quote(parts.path, _PATH_SAFE) or "/"
    if parts.query:
        path += "?" + _quote(parts.query, _QUERY_SAFE)
    if spelled.startswith("["):
        v6, zone = _ipv6_literal(spelled[1:-1])
        return Target(parts.scheme, v6.compressed, port, path, v6, zone, spelled)
    host, address = _host(spelled)
    return Target(parts.scheme, host, port, path, address, "", spelled)


def canonical_url(url: str) -> str:
    """The URL as it will be connected to (raises TargetError)."""
    return parse_target(url).url


def url_refusal(url: str, allow_insecure: bool) -> str | None:
    """Why this URL cannot be a delivery target, or None when it can."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        target = parse_target(url)
    except TargetError as exc:
        return str(exc)
    return target_refusal(target, allow_insecure)


def target_refusal(target: Target, allow_insecure: bool) -> str | None:
    """Why this parsed target may not be connected to, judged before any resolution; a name
    is judged again on every address it resolves to."""
    if allow_insecure:
        return None
    if target.scheme != "https":
        return f"must use https:// ({INSECURE_SETTING}=1 allows http:// for development)"
    if target.address is None:
        name = target.host.rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return f"must not point at localhost (a loopback name){LOCAL_HINT}"
        return None
    literal = target.host + (f"%{target.zone}" if target.zone else "")
    refusal = address_refusal(literal)
    if refusal is None:
        return None
    written = target.spelled.strip("[]")
    if written != literal:
        refusal = f"{written!r} reads as {literal}: {refusal}"
    return f"must not point at a non-public address: {refusal}{LOCAL_HINT}"


def address_refusal(address: str) -> str | None:
    """Why connecting to this IP address (IPv6 possibly with a `%zone`) is refused, or None if
    it is a public address. The text names the rule: "127.0.0.1 is in 127.0.0.0/8 (loopback)"."""
    text, _, zone = address.partition("%")
    try:
        ip = IPv6Address(text) if ":" in text else IPv4Address(text)
    except ValueError:
        return f"{address} is not an IP address"
    rule = _rule(ip)
    if rule is None and zone:
        rule = "scoped to an interface by its zone; only global addresses are allowed"
    return f"{address} is {rule}" if rule else None


def _rule(ip: IPv4Address | IPv6Address) -> str | None:
    """The refusing rule, as "in <network> (<what it is>)", or None."""
    if isinstance(ip, IPv4Address):
        for network, label in IPV4_REFUSED:
            if ip in network:
                return f"in {network} ({label})"
        return None if ip.is_global else "not a global address (reserved)"
    for v6_net, label in IPV6_EXACT:
        if ip in v6_net:
            return f"in {v6_net} ({label})"
    for v6_net, label, embedded in IPV6_EMBEDDING:
        if ip in v6_net:
            inner = embedded(ip)
            rule = _rule(inner)
            return f"in {v6_net} ({label}) and embeds {inner}, {rule}" if rule else None
    for v6_net, label in IPV6_REFUSED:
        if ip in v6_net:
            return f"in {v6_net} ({label})"
    if ip not in GLOBAL_UNICAST:
        return f"outside {GLOBAL_UNICAST} (not global unicast)"
    return None if ip.is_global else "not a global address (reserved)"


# -- reading the parts ------------------------------------------------------------------------

_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_HEX = frozenset("0123456789abcdefABCDEF")
_LDH = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_DIGITS = frozenset("0123456789")


def _quote(text: str, safe: frozenset[str]) -> str:
    """Percent-encode what is not safe, keeping well-formed %XX escapes as they are."""
    out = []
    for i, ch in enumerate(text):
        if ch in safe or (ch == "%" and len(text) > i + 2 and _HEX.issuperset(text[i + 1:i + 3])):
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
    return "".join(out)


def _split_port(netloc: str) -> tuple[str, str | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise TargetError("is not a valid URL (an unclosed [ in the host)")
        host, rest = netloc[:end + 1], netloc[end + 1:]
        if rest and not rest.startswith(":"):
            raise TargetError("is not a valid URL (text after the ] of the host)")
        return host, rest[1:] if rest else None
    host, colon, port = netloc.partition(":")
    if ":" in port:
        raise TargetError("is not a valid URL (an IPv6 address must be in [brackets])")
    return host, port if colon else None


def _port(text: str | None, scheme: str) -> int:
    if not text:
        return DEFAULT_PORTS[scheme]
    if not _DIGITS.issuperset(text):
        raise TargetError(f"is not a valid URL (port {text!r} is not a number)")
    port = int(text)
    if not 1 <= port <= 65535:
        raise TargetError(f"is not a valid URL (port {port} is out of range 1-65535)")
    return port


def _ipv6_literal(text: str) -> tuple[IPv6Address, str]:
    address, _, zone = text.partition("%")
    # RFC 6874 writes the zone as %25<zone>; a bare %<zone> is common enough to read too.
    zone = _percent_decode(zone[2:] if zone.startswith("25") else zone) if zone else ""
    try:
        if not address.isascii():
            raise ValueError("non-ASCII characters")
        return IPv6Address(address), zone
    except ValueError as exc:
        raise TargetError(f"has an invalid IPv6 address [{text}] ({exc})") from None


def _host(spelled: str) -> tuple[str, IPv4Address | None]:
    """A host outside brackets, as (ASCII host, its IPv4 address if it is one)."""
    if not spelled:
        raise TargetError("must be an absolute https:// URL with a host")
    invalid = f"has an invalid host {spelled!r}"
    decoded = _percent_decode(spelled)
    try:
        mapped = idna.uts46_remap(decoded, std3_rules=True, transitional=False)
    except (idna.IDNAError, UnicodeError) as exc:
        raise TargetError(f"{invalid}: neither a DNS name nor an IP address ({exc})") from None
    labels = mapped.split(".")
    fqdn = len(labels) > 1 and labels[-1] == ""
    if fqdn:
        labels.pop()
    if _is_number(labels[-1]):
        address = _ipv4(labels)
        if address is None:
            raise TargetError(f"{invalid}: it ends in a number but is not an IPv4 address")
        return str(address), address
    ascii_labels = [_ascii_label(label, invalid) for label in labels]
    name = ".".join(ascii_labels)
    if len(name) > MAX_NAME:
        raise TargetError(f"{invalid}: a DNS name has at most {MAX_NAME} characters")
    return name + ("." if fqdn else ""), None


def _percent_decode(text: str) -> str:
    if "%" not in text:
        return text
    raw, i = bytearray(), 0
    while i < len(text):
        if text[i] == "%":
            if len(text) < i + 3 or not _HEX.issuperset(text[i + 1:i + 3]):
                raise TargetError(f"is not a valid URL (a bad %-escape in {text!r})")
            raw.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            raw.extend(text[i].encode())
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TargetError(f"is not a valid URL (%-escapes in {text!r} are not UTF-8)") from None


def _ascii_label(label: str, invalid: str) -> str:
    if not label:
        raise TargetError(f"{invalid}: an empty label")
    if label.isascii():
        if not _LDH.fullmatch(label):
            raise TargetError(f"{invalid}: {label!r} is not a DNS label (letters, digits, "
                              "inner hyphens)")
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise TargetError(f"{invalid}: {label!r} is not a valid A-label ({exc})"
                                  ) from None
    else:
        try:
            label = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise TargetError(f"{invalid}: {label!r} is not a valid IDN label ({exc})") from None
    if len(label) > MAX_LABEL:
        raise TargetError(f"{invalid}: a DNS label has at most {MAX_LABEL} characters")
    return label


def _is_number(label: str) -> bool:
    if label[:2] in ("0x", "0X"):
        return _HEX.issuperset(label[2:])
    return bool(label) and _DIGITS.issuperset(label)


def _ipv4(labels: list[str]) -> IPv4Address | None:
    """IPv4 as inet_aton and WHATWG read it: 1-4 parts, each decimal, 0x-hex or 0-octal, the
    last filling the remaining bytes."""
    if len(labels) > 4:
        return None
    numbers = []
    for label in labels:
        if label[:2] in ("0x", "0X"):
            digits, base = label[2:] or "0", 16
        elif len(label) > 1 and label.startswith("0"):
            digits, base = label[1:], 8
        else:
            digits, base = label, 10
        allowed = _HEX if base == 16 else frozenset("01234567") if base == 8 else _DIGITS
        if not digits or not allowed.issuperset(digits):
            return None
        numbers.append(int(digits, base))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return IPv4Address(value)
