"""Proto <-> domain for webhooks: failure handling, durations, headers, secret rotations, both
resource shapes (which never carry the secret)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from flowhooks.v1 import failure_handling_pb2, subscriptions_pb2, webhooks_pb2
from google.protobuf import duration_pb2, struct_pb2

from flowhooks_server.api.convert import timestamp
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.webhooks import (
    DEFAULT_FAILURE_HANDLING,
    DEFAULT_TIMEOUT_S,
    NAMED_TRIGGERS,
    FailureHandling,
    RetryStrategy,
    Webhook,
)


def seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def duration(value_s: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(timedelta(seconds=value_s))
    return d


def failure_handling_in(message: failure_handling_pb2.FailureHandling) -> FailureHandling:
    """Parts left out take the default's values; an explicit retryStrategy must be whole."""
    retry = DEFAULT_FAILURE_HANDLING.retry
    if message.HasField("retry_strategy"):
        given = message.retry_strategy
        retry = RetryStrategy(
            type=given.type or retry.type,
            interval_s=seconds(given.interval) if given.HasField("interval") else retry.interval_s,
            attempts=given.attempts,
        )
    return FailureHandling(
        triggers=tuple(message.triggers) or NAMED_TRIGGERS,
        retry=retry,
        alert_endpoint=message.alert_endpoint,
        divert=message.divert if message.HasField("divert") else DEFAULT_FAILURE_HANDLING.divert,
        suspend=message.suspend,
    )


def failure_handling_out(fh: FailureHandling) -> failure_handling_pb2.FailureHandling:
    return failure_handling_pb2.FailureHandling(
        triggers=list(fh.triggers),
        retry_strategy=failure_handling_pb2.RetryStrategy(
            type=fh.retry.type, interval=duration(fh.retry.interval_s),
            attempts=fh.retry.attempts),
        alert_endpoint=fh.alert_endpoint,
        divert=fh.divert,
        suspend=fh.suspend,
    )


def delivery_options_in(request: Any) -> dict[str, Any]:
    """`failure_handling`, `timeout_s`, `format`, `ordered` of a create request of either
    surface (same field names on both), defaults where left out."""
    return {
        "failure_handling": failure_handling_in(request.failure_handling)
        if request.HasField("failure_handling") else DEFAULT_FAILURE_HANDLING,
        "timeout_s": seconds(request.timeout) if request.HasField("timeout")
        else DEFAULT_TIMEOUT_S,
        "format": request.format or "json",
        "ordered": request.ordered,
    }


def delivery_option_changes(request: Any) -> dict[str, Any]:
    """The same options of an update request of either surface: only those sent."""
    changes: dict[str, Any] = {}
    if request.HasField("failure_handling"):
        changes["failure_handling"] = failure_handling_in(request.failure_handling)
    if request.HasField("timeout"):
        changes["timeout_s"] = seconds(request.timeout)
    if request.HasField("format"):
        changes["format"] = request.format
    if request.HasField("ordered"):
        changes["ordered"] = request.ordered
    return changes


def rotation_in(request: Any) -> dict[str, Any]:
    """`key` and `grace` of a rotate request of either surface (same field names on both):
    None where left out, so the service applies its defaults."""
    return {
        "key": request.key if request.HasField("key") else None,
        "grace": request.grace_period.ToTimedelta() if request.HasField("grace_period")
        else None,
    }


def strings(values: Iterable[struct_pb2.Value], field: str) -> tuple[str, ...]:
    """A JSON array (ListValue or repeated Value) that must hold only strings."""
    out = []
    for i, value in enumerate(values):
        if value.WhichOneof("kind") != "string_value":
            raise InvalidArgument(f"{field}[{i}]", "must be a string")
        out.append(value.string_value)
    return tuple(out)


def multi_headers_in(headers: Mapping[str, struct_pb2.ListValue],
                     field: str) -> dict[str, tuple[str, ...]]:
    """map<string, ListValue> → {name: values}."""
    return {name: strings(values.values, f"{field}.{name}") for name, values in headers.items()}


def struct_headers_in(headers: struct_pb2.Struct, field: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, value in headers.fields.items():
        if value.WhichOneof("kind") != "string_value":
            raise InvalidArgument(f"{field}.{name}", "must be a string")
        out[name] = (value.string_value,)
    return out


def _list_value(values: Iterable[str]) -> struct_pb2.ListValue:
    lv = struct_pb2.ListValue()
    lv.extend(list(values))
    return lv


def webhook_out(webhook: Webhook) -> webhooks_pb2.Webhook:
    spec = webhook.spec
    return webhooks_pb2.Webhook(
        locator=webhook.id,
        name=spec.name,
        enabled=spec.enabled,
        endpoint=webhooks_pb2.Endpoint(
            url=spec.url, headers={k: _list_value(v) for k, v in spec.headers.items()}),
        failure_handling=failure_handling_out(spec.failure_handling),
        suspended=webhook.suspended,
        suspended_at=timestamp(webhook.suspended_at),
        event_types=list(spec.event_types),
        created_at=timestamp(webhook.created_at),
        updated_at=timestamp(webhook.updated_at),
        timeout=duration(spec.timeout_s),
        format=spec.format,
        ordered=spec.ordered,
    )


def subscription_out(webhook: Webhook) -> subscriptions_pb2.Subscription:
    spec = webhook.spec
    return subscriptions_pb2.Subscription(
        id=webhook.id,
        name=spec.name,
        url=spec.url,
        event_types=list(spec.event_types),
        headers={k: ", ".join(v) for k, v in spec.headers.items()},
        active=webhook.active,
        created_at=timestamp(webhook.created_at),
        updated_at=timestamp(webhook.updated_at),
        failure_handling=failure_handling_out(spec.failure_handling),
        timeout=duration(spec.timeout_s),
        format=spec.format,
        ordered=spec.ordered,
        suspended=webhook.suspended,
    )
