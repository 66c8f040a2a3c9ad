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
