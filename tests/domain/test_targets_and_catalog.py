"""Pure rules: delivery target refusal (SPEC §8.11) and event-type patterns."""

import pytest

from flowhooks_server.domain.catalog import TYPE_NAMES, matches
from flowhooks_server.domain.targets import address_refusal, url_refusal


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
                                     "169.254.169.254", "::1", "fe80::1", "224.0.0.1",
                                     "0.0.0.0", "::ffff:127.0.0.1", "100.64.0.1", "240.0.0.1"])
def test_non_public_addresses_are_refused(address):
    assert address_refusal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address):
    assert address_refusal(address) is None


@pytest.mark.parametrize("url,reason", [
    ("http://example.com/x", "https"),
    ("https://127.0.0.1/x", "loopback"),
    ("https://[::1]/x", "loopback"),
    ("https://169.254.169.254/latest", "link-local"),
    ("https://localhost/x", "localhost"),
    ("ftp://example.com", "https"),
    ("https:///nohost", "host"),
    ("https://example.com:99999/", "valid URL"),
    ("https://example.com/" + "a" * 2048, "2048"),
])
def test_url_refusals_say_why(url, reason):
    assert reason in url_refusal(url, allow_insecure=False)


def test_insecure_mode_allows_http_and_loopback():
    assert url_refusal("http://127.0.0.1:8000/in", allow_insecure=True) is None
    assert url_refusal("https://hooks.example.com/in", allow_insecure=False) is None


def test_patterns_cover_the_catalog():
    assert len(TYPE_NAMES) == 6
    assert all(matches(["*"], t) for t in TYPE_NAMES)
    assert all(matches(["workflow.*"], t) for t in TYPE_NAMES)
    steps = {t for t in TYPE_NAMES if matches(["workflow.step.*"], t)}
    assert steps == {"workflow.step.started", "workflow.step.completed", "workflow.step.failed"}
    assert matches(["workflow.completed"], "workflow.completed")
    assert not matches(["workflow.completed"], "workflow.failed")
    assert not matches(["workflow.comp*"], "workflow.completed")
