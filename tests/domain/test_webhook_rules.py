"""Webhook validation and add/remove semantics (SPEC §7)."""

import pytest

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.webhooks import (
    ELAN_FIELDS,
    SOCOTRA_FIELDS,
    FailureHandling,
    RetryStrategy,
    WebhookSpec,
    apply_add_remove,
    apply_header_changes,
    header_refusals,
    validate,
)

GOOD = WebhookSpec(name="ops", url="https://hooks.example.com/in",
                   event_types=("workflow.completed",))


def fields_of(spec, names=ELAN_FIELDS):
    with pytest.raises(InvalidArgument) as err:
        validate(spec, names, allow_insecure=False)
    return {f for f, _ in err.value.violations}


def test_good_spec_passes():
    validate(GOOD, ELAN_FIELDS, allow_insecure=False)


def test_every_rule_names_its_field():
    bad = GOOD.with_changes(
        name="x" * 256, url="http://hooks.example.com", event_types=("workflow.nope",),
        secret="s" * 256, headers={"Host": ("a",), "webhook-id": ("b",)},
        failure_handling=FailureHandling(triggers=("6xx",),
                                         retry=RetryStrategy("fib", -1, 11)),
        timeout_s=31, format="xml",
    )
    assert fields_of(bad, SOCOTRA_FIELDS) == {
        "name", "endpoint.url", "eventTypes[0]", "endpoint.secret", "endpoint.headers.Host",
        "endpoint.headers.webhook-id", "failureHandling.triggers[0]",
        "failureHandling.retryStrategy.type", "failureHandling.retryStrategy.interval",
        "failureHandling.retryStrategy.attempts", "timeout", "format",
    }


def test_missing_required_fields():
    assert fields_of(WebhookSpec(name=" ", url="", event_types=())) == {
        "name", "url", "eventTypes"}


def test_too_many_headers():
    headers = {f"X-H{i}": ("v",) for i in range(51)}
    assert fields_of(GOOD.with_changes(headers=headers)) == {"headers"}


@pytest.mark.parametrize("attempts", [0, 11])
def test_attempts_bounds(attempts):
    fh = FailureHandling(retry=RetryStrategy(attempts=attempts))
    assert fields_of(GOOD.with_changes(failure_handling=fh)) == {
        "failureHandling.retryStrategy.attempts"}


def test_exact_status_triggers_are_valid():
    validate(GOOD.with_changes(failure_handling=FailureHandling(triggers=("503", "4xx"))),
             ELAN_FIELDS, allow_insecure=False)


def test_removals_first_then_additions():
    assert apply_add_remove(("a", "b"), remove=["a", "b"], add=["b", "c"]) == ("b", "c")
    assert apply_add_remove(("a",), remove=[], add=["a"]) == ("a",)


def test_header_removed_and_readded_ends_present():
    out = apply_header_changes({"X-Team": ("ops",), "X-Old": ("1",)},
                               remove=["x-team", "X-Old"], add={"X-Team": ["dev", "ops"]})
    assert out == {"X-Team": ("dev", "ops")}


# -- custom headers (SPEC §7) -----------------------------------------------------------------

RESERVED = ["Host", "Content-Type", "Content-Length", "webhook-id", "webhook-signature",
            "Webhook-Timestamp", "X-Webhook-Signature", "User-Agent", "Transfer-Encoding",
            "Content-Encoding", "Connection", "Keep-Alive", "Expect", "Upgrade", "TE",
            "Trailer", "Proxy-Authorization", "Proxy-Connection", "proxy-anything"]


@pytest.mark.parametrize("name", RESERVED + [n.upper() for n in RESERVED]
                         + [n.lower() for n in RESERVED])
def test_reserved_headers_are_refused_in_any_case(name):
    spec = GOOD.with_changes(headers={name: ("v",)})
    assert fields_of(spec, SOCOTRA_FIELDS) == {f"endpoint.headers.{name}"}
    assert fields_of(spec, ELAN_FIELDS) == {f"headers.{name}"}


@pytest.mark.parametrize("name", ["", "X A", "X:A", "X\tA", "(x)", "X/A", "X-\u00e9", "X=1",
                                  "a\x00b", "X\r\nY", "[x]", "{x}", '"x"', "x@y", "x?", "x,y"])
def test_header_names_must_be_tokens(name):
    assert fields_of(GOOD.with_changes(headers={name: ("v",)})) == {f"headers.{name}"}


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\rb", "a\nb", "a\x00b", "\x01",
                                   "a\x1fb", "a\x7f", "ok\x0b"])
def test_header_values_must_hold_no_control_characters(value):
    assert fields_of(GOOD.with_changes(headers={"X-Fine": ("ok", value)})) == {"headers.X-Fine"}


def test_ordinary_headers_pass():
    headers = {"X-Team": ("ops", "dev"), "Authorization": ("Bearer abc",), "X-Tab": ("a\tb",),
               "x.dotted~name!#$%&'*+^_`|": ("v",), "Accept": ("*/*",), "X-Empty": ("",),
               "X-Unicode": ("Zoë",), "Tee": ("not TE",), "Hostname": ("not Host",),
               "X-Proxy-Id": ("not Proxy-*",)}
    validate(GOOD.with_changes(headers=headers), ELAN_FIELDS, allow_insecure=False)


def test_header_refusals_name_every_problem():
    assert header_refusals("Transfer-Encoding", ["chunked"]) == [
        "is reserved: flowhooks or the HTTP connection sets it"]
    assert header_refusals("X A", ["a\nb"]) == [
        "is not a valid header name (an RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~)",
        "values must not contain a line feed (LF)"]
    assert header_refusals("X-Ok", ["\x00"]) == ["values must not contain a NUL character"]
    assert header_refusals("X-Ok", ["ok", "fine"]) == []


def test_headers_stored_before_the_rules_are_never_sent():
    from flowhooks_server.domain.payloads import delivery_headers

    sent = delivery_headers(msg_id="msg_1", timestamp=1, body=b"{}",
                            content_type="application/json", secrets=["s"],
                            custom={"X-Team": ["ops"], "Transfer-Encoding": ["chunked"],
                                    "X-Bad": ["a\x00b"], "Bad Name": ["x"]})
    names = [name.lower() for name, _ in sent]
    assert ("X-Team", "ops") in sent
    assert "transfer-encoding" not in names and "x-bad" not in names
    assert "bad name" not in names and names.count("content-type") == 1
