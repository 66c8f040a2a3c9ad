"""Property tests of the SSRF guard (SPEC §8.11, §10 "hostile input"): addresses drawn from
every refused range, written every way a parser might read them (integer, hex, octal, short
forms, fullwidth and circled digits, ideographic full stops, %-escapes, IPv4 embedded in
IPv6), are all refused; public addresses and names in the same disguises pass and read as
themselves; and no input at all makes the guard raise or accept a host that is neither an IP
address nor a DNS name."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import yarl
from hypothesis import given, settings
from hypothesis import strategies as st

from flowhooks_server.domain.targets import (
    IPV4_REFUSED,
    TargetError,
    parse_target,
    url_refusal,
)

SETTINGS = settings(max_examples=200, deadline=None)

IPV6_REFUSED_NETS = [IPv6Network(n) for n in (
    "::1/128", "::/128", "fe80::/10", "fec0::/10", "fc00::/7", "ff00::/8")]
# Public ranges to draw from (allocated, globally routed unicast).
IPV4_PUBLIC = [IPv4Network(n) for n in ("1.0.0.0/8", "8.0.0.0/8", "93.184.0.0/16",
                                        "151.101.0.0/16", "203.0.114.0/23")]
IPV6_PUBLIC = [IPv6Network(n) for n in ("2606:4700::/32", "2a00:1450::/32")]

FULLWIDTH = {c: chr(0xFF10 + i) for i, c in enumerate("0123456789")} | {
    c: chr(0xFF41 + i) for i, c in enumerate("abcdef")} | {"x": "ｘ", "X": "Ｘ"}
CIRCLED = {"0": "⓪"} | {str(i): chr(0x2460 + i - 1) for i in range(1, 10)}
DOTS = [".", "。", "．", "｡"]


def in_network(network):
    return st.integers(0, network.num_addresses - 1).map(lambda n: network[n])


refused_v4 = st.sampled_from([net for net, _ in IPV4_REFUSED]).flatmap(in_network)
public_v4 = st.sampled_from(IPV4_PUBLIC).flatmap(in_network)


def _number(n: int, style: str) -> str:
    return {"dec": str(n), "hex": hex(n), "HEX": "0X" + format(n, "X"),
            "oct": "0" + format(n, "o")}[style]


@st.composite
def numeric_ipv4(draw, addresses) -> tuple[str, IPv4Address]:
    """An IPv4 address in a form inet_aton and WHATWG accept, in ASCII."""
    address = draw(addresses)
    value = int(address)
    parts = draw(st.sampled_from([4, 3, 2, 1]))
    octets = list(address.packed)
    numbers = octets[:parts - 1] + [int.from_bytes(bytes(octets[parts - 1:]), "big")]
    styles = st.sampled_from(["dec", "hex", "HEX", "oct"])
    text = ".".join(_number(n, draw(styles)) for n in numbers)
    assert socket.inet_aton(text) == value.to_bytes(4, "big")  # libc reads it so too
    return text, address


@st.composite
def disguised(draw, text: str) -> str:
    """The same host after Unicode look-alikes, other full stops and %-escapes."""
    table = draw(st.sampled_from([{}, FULLWIDTH, CIRCLED]))
    out = []
    for ch in text:
        if ch == ".":
            ch = draw(st.sampled_from(DOTS))
        elif ch in table and draw(st.booleans()):
            ch = table[ch]
        if draw(st.integers(0, 5)) == 0:
            ch = "".join(f"%{b:02X}" for b in ch.encode())
        out.append(ch)
    return "".join(out)


def url_of(host: str, port: int | None, path: str) -> str:
    return f"https://{host}{f':{port}' if port else ''}{path}"


ports = st.none() | st.integers(1, 65535)
paths = st.sampled_from(["", "/", "/hook", "/a/b?c=d", "/ü?q=%41"])


@st.composite
def embedded_ipv6(draw, addresses) -> tuple[str, IPv4Address]:
    """An IPv4 address inside IPv6: mapped, compatible, 6to4 or NAT64, in several writings."""
    address = draw(addresses)
    value = int(address)
    kind = draw(st.sampled_from(["mapped", "mapped-dotted", "compat", "6to4", "nat64"]))
    if kind == "mapped-dotted":
        return f"::ffff:{address}", address
    if kind == "6to4":
        ip = IPv6Address((0x2002 << 112) | (value << 80) | draw(st.integers(0, 2**80 - 1)))
    else:
        prefix = {"mapped": 0xFFFF << 32, "compat": 0, "nat64": 0x64FF9B << 96}[kind]
        if kind == "compat" and value < 2:
            value += 2  # ::0 and ::1 are the unspecified and loopback addresses, not IPv4
            address = IPv4Address(int(address) + 2)
        ip = IPv6Address(prefix | value)
    text = draw(st.sampled_from([ip.compressed, ip.exploded]))
    return draw(st.sampled_from([text, text.upper()])), address


@given(numeric_ipv4(refused_v4), ports, paths, st.booleans(), st.data())
@SETTINGS
def test_refused_ipv4_in_any_spelling_is_refused(spelled, port, path, dot, data):
    text, address = spelled
    host = data.draw(disguised(text + ("." if dot else "")))
    url = url_of(host, port, path)
    refusal = url_refusal(url, allow_insecure=False)
    assert refusal and "non-public address" in refusal, (url, refusal)
    assert parse_target(url).host == str(address)


@given(embedded_ipv6(refused_v4), ports)
@SETTINGS
def test_refused_ipv4_embedded_in_ipv6_is_refused(spelled, port):
    text, address = spelled
    refusal = url_refusal(url_of(f"[{text}]", port, "/"), allow_insecure=False)
    assert refusal and f"embeds {address}" in refusal, (text, refusal)


@given(st.sampled_from(IPV6_REFUSED_NETS).flatmap(in_network), st.booleans(),
       st.sampled_from(["", "%25eth0", "%eth0", "%251"]), ports)
@SETTINGS
def test_refused_ipv6_is_refused_with_or_without_zone(address, exploded, zone, port):
    text = address.exploded if exploded else address.compressed
    refusal = url_refusal(url_of(f"[{text}{zone}]", port, "/"), allow_insecure=False)
    assert refusal and "non-public address" in refusal, (text, refusal)


@given(numeric_ipv4(public_v4), ports, paths, st.data())
@SETTINGS
def test_public_ipv4_in_any_spelling_passes_and_reads_as_itself(spelled, port, path, data):
    text, address = spelled
    url = url_of(data.draw(disguised(text)), port, path)
    assert url_refusal(url, allow_insecure=False) is None, url
    target = parse_target(url)
    assert target.host == str(address)
    assert yarl.URL(target.url, encoded=True).raw_host == str(address)


@given(st.one_of(embedded_ipv6(public_v4).map(lambda pair: pair[0]),
                 st.sampled_from(IPV6_PUBLIC).flatmap(in_network).map(str)), ports)
@SETTINGS
def test_public_ipv6_passes(text, port):
    assert url_refusal(url_of(f"[{text}]", port, "/"), allow_insecure=False) is None, text


label = st.from_regex(r"[a-z](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda s: not s.startswith("xn--"))
tld = st.sampled_from(["com", "org", "net", "de", "io", "example"])


@given(st.lists(label, min_size=1, max_size=4), tld, ports, paths, st.data())
@SETTINGS
def test_public_names_pass_and_read_as_themselves(labels, top, port, path, data):
    name = ".".join([*labels, top])
    spelled = data.draw(st.sampled_from([name, name.upper(), name.replace(".", "。")]))
    url = url_of(spelled, port, path)
    assert url_refusal(url, allow_insecure=False) is None, url
    target = parse_target(url)
    assert target.host == name and target.address is None
    try:
        socket.inet_aton(target.host)
    except OSError:
        pass  # as it must: libc does not read the name as a number either
    else:
        raise AssertionError(f"{name} is a number to libc")


hosts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | \
    st.text("0123456789abcdefx.%:[]_-。１２７①", max_size=30)


@given(hosts, ports, st.booleans())
@SETTINGS
def test_any_host_is_read_or_refused_never_guessed(host, port, secure):
    url = url_of(host, port, "/x")
    refusal = url_refusal(url, allow_insecure=not secure)
    assert refusal is None or isinstance(refusal, str)
    try:
        target = parse_target(url)
    except TargetError:
        assert refusal is not None
        return
    assert target.host.isascii() and target.host == target.host.lower()
    assert parse_target(target.url) == parse_target(target.url)  # stable
    assert parse_target(target.url).url == target.url  # canonical is a fixed point
    if target.address is None:
        name = target.host.rstrip(".")
        assert all(part and len(part) <= 63 for part in name.split("."))
        assert all(ch.isalnum() or ch in "-." for ch in name)
        assert len(name) <= 253
    raw = yarl.URL(target.url, encoded=True).raw_host
    assert raw.split("%")[0] == target.host


@given(st.text(max_size=60) | st.builds(lambda rest: "https://" + rest, st.text(max_size=60)),
       st.booleans())
@SETTINGS
def test_any_text_gets_an_answer_never_an_exception(text, secure):
    refusal = url_refusal(text, allow_insecure=not secure)
    assert refusal is None or isinstance(refusal, str)
