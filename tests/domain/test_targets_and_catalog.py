"""Pure rules: delivery target refusal (SPEC §8.11) and event-type patterns."""

import pytest

from flowhooks_server.domain.catalog import TYPE_NAMES, matches
from flowhooks_server.domain.targets import address_refusal, canonical_url, url_refusal

# One address of every refused range of SPEC §8.11, and the rule its refusal must name.
REFUSED_ADDRESSES = [
    ("0.0.0.0", "0.0.0.0/8"), ("0.1.2.3", "0.0.0.0/8"), ("10.1.2.3", "10.0.0.0/8 (private)"),
    ("100.64.0.1", "100.64.0.0/10"), ("127.0.0.1", "127.0.0.0/8 (loopback)"),
    ("127.255.1.2", "127.0.0.0/8 (loopback)"),
    ("169.254.169.254", "169.254.0.0/16 (link-local)"), ("172.16.0.1", "172.16.0.0/12"),
    ("172.31.255.255", "172.16.0.0/12"), ("192.0.0.8", "192.0.0.0/24"),
    ("192.0.2.1", "192.0.2.0/24 (documentation)"), ("192.168.1.1", "192.168.0.0/16"),
    ("198.18.0.1", "198.18.0.0/15"), ("198.19.255.1", "198.18.0.0/15"),
    ("198.51.100.7", "198.51.100.0/24"), ("203.0.113.9", "203.0.113.0/24"),
    ("224.0.0.1", "224.0.0.0/4 (multicast)"), ("239.255.255.250", "224.0.0.0/4"),
    ("240.0.0.1", "240.0.0.0/4"), ("255.255.255.255", "limited broadcast"),
    ("::", "::/128 (unspecified)"), ("::1", "::1/128 (loopback)"),
    ("fe80::1", "fe80::/10 (link-local)"), ("fe80::1%eth0", "fe80::/10 (link-local)"),
    ("febf::1", "fe80::/10"), ("fec0::1", "fec0::/10 (site-local)"), ("fc00::1", "fc00::/7"),
    ("fd12:3456::1", "fc00::/7"), ("ff02::1", "ff00::/8 (multicast)"),
    ("::ffff:127.0.0.1", "::ffff:0:0/96 (IPv4-mapped) and embeds 127.0.0.1"),
    ("::ffff:10.0.0.1", "embeds 10.0.0.1, in 10.0.0.0/8"),
    ("::127.0.0.1", "::/96 (IPv4-compatible) and embeds 127.0.0.1"),
    ("2002:7f00:1::", "2002::/16 (6to4) and embeds 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "embeds 169.254.169.254"),
    ("64:ff9b::7f00:1", "64:ff9b::/96 (NAT64) and embeds 127.0.0.1"),
    ("64:ff9b::a00:1", "embeds 10.0.0.1"), ("64:ff9b:1::1", "local-use NAT64"),
    ("2001::1", "Teredo"), ("2001:db8::1", "2001:db8::/32 (documentation)"),
    ("100::1", "discard-only"), ("4000::1", "not global unicast"),
    ("2606:4700::1111%eth0", "zone"),
]


@pytest.mark.parametrize("address,rule", REFUSED_ADDRESSES, ids=[a for a, _ in REFUSED_ADDRESSES])
def test_non_public_addresses_are_refused_naming_the_rule(address, rule):
    refusal = address_refusal(address)
    assert refusal and refusal.startswith(address) and rule in refusal, refusal


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8", "1.0.0.1",
                                     "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808",
                                     "100.63.255.255", "100.128.0.0", "172.32.0.1",
                                     "192.0.1.1", "198.20.0.1", "223.255.255.255"])
def test_public_addresses_pass(address):
    assert address_refusal(address) is None


def test_a_non_address_is_refused_not_raised():
    assert "not an IP address" in address_refusal("example.com")


@pytest.mark.parametrize("url,reason", [
    ("http://example.com/x", "FLOWHOOKS_ALLOW_INSECURE_TARGETS"),
    ("https://127.0.0.1/x", "loopback"),
    ("https://[::1]/x", "loopback"),
    ("https://169.254.169.254/latest", "link-local"),
    ("https://localhost/x", "localhost"),
    ("https://localhost./x", "localhost"),
    ("https://api.localhost/x", "localhost"),
    ("ftp://example.com", "https"),
    ("https:///nohost", "host"),
    ("https:example.com", "host"),
    ("https://example.com:99999/", "valid URL"),
    ("https://example.com:0/", "valid URL"),
    ("https://example.com:８４４３/", "not a number"),
    ("https://example.com/" + "a" * 2048, "2048"),
    ("https://user:pw@example.com/", "credentials"),
    ("https://example.com\\@127.0.0.1/", "credentials"),
    ("https://ex ample.com/", "space"),
    ("https://a\ud800b.example.com/", "Unicode"),
    ("https://example.com/a\tb", "control character"),
    ("https://a_b.example.com/", "invalid host"),
    ("https://%zz.example.com/", "%-escape"),
    ("https://%C3.example.com/", "UTF-8"),
    ("https://-a.example.com/", "invalid host"),
    ("https://" + "a" * 64 + ".com/", "invalid host"),
    ("https://" + ".".join(["a" * 63] * 4) + ".com/", "253"),
    ("https://xn--zz.com/", "A-label"),
    ("https://1.2.3.4.5/", "not an IPv4 address"),
    ("https://127.0.0.256/", "not an IPv4 address"),
    ("https://08.0.0.1/", "not an IPv4 address"),
    ("https://[127.0.0.1]/", "valid URL"),
    ("https://[::１]/", "valid URL"),
    ("https://::1/", "brackets"),
])
def test_url_refusals_say_why(url, reason):
    assert reason in url_refusal(url, allow_insecure=False)


# The spellings seen accepted from outside (and their kin): each reads as its address.
SPELLINGS = [
    ("https://１２７.０.０.１:8443/", "https://127.0.0.1:8443/", "127.0.0.0/8 (loopback)"),
    ("https://127。0。0。1:8443/", "https://127.0.0.1:8443/", "127.0.0.0/8 (loopback)"),
    ("https://１２７．０．０．１/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://①②⑦.0.0.1:8443/", "https://127.0.0.1:8443/", "127.0.0.0/8 (loopback)"),
    ("https://%31%32%37.0.0.1/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://127.1/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://2130706433/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://0x7f.1/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://0X7F000001/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://0177.0.0.1/", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://127.0.0.1./", "https://127.0.0.1/", "127.0.0.0/8 (loopback)"),
    ("https://⑩.0.0.1/", "https://10.0.0.1/", "10.0.0.0/8 (private)"),
    ("https://0/", "https://0.0.0.0/", "0.0.0.0/8"),
    ("https://[2002:7f00:1::]/", "https://[2002:7f00:1::]/", "embeds 127.0.0.1"),
    ("https://[fec0::1]/", "https://[fec0::1]/", "fec0::/10 (site-local)"),
    ("https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "embeds 127.0.0.1"),
    ("https://[64:ff9b::7f00:1]/", "https://[64:ff9b::7f00:1]/", "embeds 127.0.0.1"),
    ("https://[fe80::1%25eth0]/", "https://[fe80::1%25eth0]/", "fe80::/10 (link-local)"),
    ("https://[FE80::1%eth0]/", "https://[fe80::1%25eth0]/", "fe80::/10 (link-local)"),
]


@pytest.mark.parametrize("url,canonical,rule", SPELLINGS, ids=[u for u, _, _ in SPELLINGS])
def test_every_spelling_reads_as_its_address_and_is_refused(url, canonical, rule):
    assert canonical_url(url) == canonical
    refusal = url_refusal(url, allow_insecure=False)
    assert refusal and "non-public address" in refusal and rule in refusal, refusal


@pytest.mark.parametrize("url,canonical", [
    ("https://hooks.example.com/in", "https://hooks.example.com/in"),
    ("HTTPS://Hooks.EXAMPLE.com:443/in?a=1#frag", "https://hooks.example.com/in?a=1"),
    ("https://hooks.example.com:8443", "https://hooks.example.com:8443/"),
    ("https://bücher.de/ü?q=ü", "https://xn--bcher-kva.de/%C3%BC?q=%C3%BC"),
    ("https://ｅｘａｍｐｌｅ。com/", "https://example.com/"),
    ("https://ex%41mple.com/", "https://example.com/"),
    ("https://r3---sn-abc.googlevideo.com/", "https://r3---sn-abc.googlevideo.com/"),
    ("https://example.com./", "https://example.com./"),
    ("https://8.8.8.8/x%2Fy", "https://8.8.8.8/x%2Fy"),
    ("https://[2606:4700::1111]:8443/", "https://[2606:4700::1111]:8443/"),
    ("https://%e2%91%a0.0.0.1/", "https://1.0.0.1/"),
    ("https://example.com/100%", "https://example.com/100%25"),
])
def test_public_targets_pass_in_canonical_form(url, canonical):
    assert url_refusal(url, allow_insecure=False) is None
    assert canonical_url(url) == canonical


def test_insecure_mode_allows_http_and_loopback_but_still_normalises():
    assert url_refusal("http://127.0.0.1:8000/in", allow_insecure=True) is None
    assert url_refusal("https://hooks.example.com/in", allow_insecure=False) is None
    assert canonical_url("http://１２７.０.０.１:8000/in") == "http://127.0.0.1:8000/in"
    assert url_refusal("http://a_b.example.com/", allow_insecure=True)


def test_patterns_cover_the_catalog():
    assert len(TYPE_NAMES) == 6
    assert all(matches(["*"], t) for t in TYPE_NAMES)
    assert all(matches(["workflow.*"], t) for t in TYPE_NAMES)
    steps = {t for t in TYPE_NAMES if matches(["workflow.step.*"], t)}
    assert steps == {"workflow.step.started", "workflow.step.completed", "workflow.step.failed"}
    assert matches(["workflow.completed"], "workflow.completed")
    assert not matches(["workflow.completed"], "workflow.failed")
    assert not matches(["workflow.comp*"], "workflow.completed")


@pytest.mark.parametrize("url", ["http://hooks.example.com/", "https://localhost:4000/",
                                 "https://127.0.0.1:4000/", "https://[::1]/",
                                 "https://192.168.1.20/"])
def test_refusals_a_developer_meets_name_the_setting_that_allows_them(url):
    """A newcomer pointing a webhook at a local receiver learns how to allow it."""
    refusal = url_refusal(url, allow_insecure=False)
    assert "FLOWHOOKS_ALLOW_INSECURE_TARGETS=1" in refusal
    assert url_refusal(url, allow_insecure=True) is None
