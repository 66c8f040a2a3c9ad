"""A tenant's webhook: the one model behind both REST surfaces, its failure handling, and the
validation rules of SPEC §7. Field names in errors are those of the surface that was called.
Signing secrets (their forms, keys and rotation) are `flowhooks_server.domain.signing`'s.

`Webhook` is a stored webhook as every layer above storage sees it: the `WebhookSpec` its owner
set, and beside it what the server keeps (ids, timestamps, suspension, the previous signing
secret of a rotation). `WebhookFilter` is what the list endpoints select webhooks by.

Custom headers (`header_refusals`) are checked the same way on both surfaces, at creation and
on every change, so a header that is accepted can always be sent:

- the name is an RFC 9110 token (`1*tchar`);
- the name is not reserved, compared case-insensitively: the headers flowhooks sets itself
  (Host, Content-Type, Content-Length, User-Agent, X-Webhook-Signature, webhook-*) and the
  hop-by-hop and framing headers whose meaning belongs to the connection, not to the caller
  (Transfer-Encoding, Content-Encoding, Connection, Keep-Alive, Expect, Upgrade, TE, Trailer,
  Proxy-*): a caller's `Transfer-Encoding: chunked` beside our Content-Length would make the
  request ambiguous to the receiver and to every proxy on the way;
- a value holds no control character but HTAB: no CR or LF (header injection), no NUL, none
  of the other C0 controls nor DEL, which HTTP clients refuse at send time, so the delivery
  would fail every attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from flowhooks_server.domain.catalog import covering_entries, is_valid_subscription
from flowhooks_server.domain.errors import Violations
from flowhooks_server.domain.signing import DEFAULT_GRACE, SecretState, secret_refusal
from flowhooks_server.domain.targets import url_refusal

MAX_NAME = 255
MAX_HEADERS = 50
MIN_TIMEOUT_S, MAX_TIMEOUT_S, DEFAULT_TIMEOUT_S = 1.0, 30.0, 10.0
MIN_ATTEMPTS, MAX_ATTEMPTS = 1, 10
FORMATS = ("json", "cloudevents")
RETRY_TYPES = ("linear", "exponential")
NAMED_TRIGGERS = ("4xx", "5xx", "timeout", "network")
# SPEC §7, compared in lower case; names starting with one of RESERVED_PREFIXES are reserved too.
RESERVED_HEADERS = frozenset({
    "host", "content-type", "content-length", "x-webhook-signature", "user-agent",
    "transfer-encoding", "content-encoding", "connection", "keep-alive", "expect", "upgrade",
    "te", "trailer",
})
RESERVED_PREFIXES = ("webhook-", "proxy-")
# RFC 9110 §5.1 field-name = token; token = 1*tchar.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: a field value is VCHAR, obs-text, SP and HTAB; every other control is refused.
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class RetryStrategy:
    type: str = "exponential"
    interval_s: float = 30.0
    attempts: int = 8


@dataclass(frozen=True)
class FailureHandling:
    triggers: tuple[str, ...] = NAMED_TRIGGERS
    retry: RetryStrategy = RetryStrategy()
    alert_endpoint: str = ""
    divert: bool = True
    suspend: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "triggers": list(self.triggers)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FailureHandling:
        if not data:
            return DEFAULT_FAILURE_HANDLING
        return cls(
            triggers=tuple(data["triggers"]),
            retry=RetryStrategy(**data["retry"]),
            alert_endpoint=data.get("alert_endpoint", ""),
            divert=data["divert"],
            suspend=data["suspend"],
        )


DEFAULT_FAILURE_HANDLING = FailureHandling()


@dataclass(frozen=True)
class WebhookSpec:
    """Everything a caller can set on a webhook."""

    name: str
    url: str
    event_types: tuple[str, ...]
    headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The current signing secret (see domain.signing); None only before one is generated.
    secret: str | None = None
    enabled: bool = True
    failure_handling: FailureHandling = DEFAULT_FAILURE_HANDLING
    timeout_s: float = DEFAULT_TIMEOUT_S
    format: str = "json"
    ordered: bool = False

    def with_changes(self, **changes: Any) -> WebhookSpec:
        return replace(self, **changes)


@dataclass(frozen=True)
class Webhook:
    """A stored webhook. `spec.secret` is its current signing secret; during a rotation's
    grace `previous_secret` signs too, until `previous_secret_expires_at` (domain.signing)."""

    id: str
    tenant_id: str
    spec: WebhookSpec
    created_at: datetime
    updated_at: datetime
    suspended: bool = False
    suspended_at: datetime | None = None
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Enabled by its owner and not suspended by failures: deliveries go out."""
        return self.spec.enabled and not self.suspended

    @property
    def secrets(self) -> SecretState:
        """Its signing secrets (SPEC §7): the one place they are built from a webhook."""
        return SecretState(self.spec.secret or "", self.previous_secret,
                           self.previous_secret_expires_at)

    def with_secret(self, secret: str, grace: timedelta, now: datetime) -> Webhook:
        """`secret` made current: the first one, or a rotation with `grace` (expired previous
        secrets are dropped on the way)."""
        state = self.secrets.rotated(secret, grace, now) if self.spec.secret \
            else SecretState(secret)
        return replace(self, spec=replace(self.spec, secret=state.current),
                       previous_secret=state.previous,
                       previous_secret_expires_at=state.previous_expires_at)

    def with_spec(self, spec: WebhookSpec, now: datetime) -> Webhook:
        """`spec` applied, its secret (which must be set) made current: a secret that differs
        from the current one is a rotation with the default grace (SPEC §7)."""
        if spec.secret is None:
            raise ValueError("a webhook's spec must hold its secret")
        kept = replace(self, spec=replace(spec, secret=self.spec.secret))
        return kept.with_secret(spec.secret, DEFAULT_GRACE, now)

    def unsuspended(self) -> Webhook:
        return replace(self, suspended=False, suspended_at=None)


@dataclass(frozen=True)
class WebhookFilter:
    """Which of a tenant's webhooks a list shows; None (or no event types) selects all."""

    name: str | None = None
    enabled: bool | None = None
    suspended: bool | None = None
    active: bool | None = None
    # Webhooks subscribed to any of these event types, directly or by a pattern.
    event_types: tuple[str, ...] = ()
    # Keyset paging: only webhooks with a larger id.
    after_id: str | None = None

    def event_entries(self) -> frozenset[str] | None:
        """The stored subscription entries (types or patterns) any of which selects a webhook
        for `event_types`; None when the list is not filtered by event type."""
        if not self.event_types:
            return None
        return frozenset[str]().union(*(covering_entries(t) for t in self.event_types))


@dataclass(frozen=True)
class FieldNames:
    """How a surface spells each field, for error messages."""

    name: str = "name"
    url: str = "url"
    event_types: str = "eventTypes"
    headers: str = "headers"
    secret: str = "secret"
    failure_handling: str = "failureHandling"
    timeout: str = "timeout"
    format: str = "format"


SOCOTRA_FIELDS = FieldNames(url="endpoint.url", headers="endpoint.headers",
                            secret="endpoint.secret")
ELAN_FIELDS = FieldNames()


def trigger_is_valid(trigger: str) -> bool:
    return trigger in NAMED_TRIGGERS or (
        trigger.isdigit() and len(trigger) == 3 and 100 <= int(trigger) <= 599
    )


def validate(spec: WebhookSpec, names: FieldNames, allow_insecure: bool,
             problems: Violations | None = None, stored_secret: str | None = None) -> None:
    """Raise InvalidArgument naming every field of `spec` that breaks SPEC §7. A secret equal
    to `stored_secret` (the one a change starts from) is not checked again, so a secret stored
    before today's rules does not block changes to other fields (see `domain.signing`)."""
    problems = problems or Violations()
    if not spec.name.strip():
        problems.add(names.name, "is required")
    elif len(spec.name) > MAX_NAME:
        problems.add(names.name, f"must be at most {MAX_NAME} characters")
    if not spec.url:
        problems.add(names.url, "is required")
    elif refusal := url_refusal(spec.url, allow_insecure):
        problems.add(names.url, refusal)
    if not spec.event_types:
        problems.add(names.event_types, "must list at least one event type")
    for i, entry in enumerate(spec.event_types):
        if not is_valid_subscription(entry):
            problems.add(f"{names.event_types}[{i}]",
                         f"unknown event type {entry!r}; see /event/{{tenant}}/event-types")
    if spec.secret is not None and spec.secret != stored_secret \
            and (refusal := secret_refusal(spec.secret)):
        problems.add(names.secret, refusal)
    _validate_headers(spec.headers, names.headers, problems)
    _validate_failure_handling(spec.failure_handling, names.failure_handling, allow_insecure,
                               problems)
    if not MIN_TIMEOUT_S <= spec.timeout_s <= MAX_TIMEOUT_S:
        problems.add(names.timeout, "must be between 1s and 30s")
    if spec.format not in FORMATS:
        problems.add(names.format, "must be json or cloudevents")
    problems.raise_if_any()


def _validate_headers(headers: dict[str, tuple[str, ...]], at: str,
                      problems: Violations) -> None:
    if len(headers) > MAX_HEADERS:
        problems.add(at, f"must have at most {MAX_HEADERS} headers")
    for name, values in headers.items():
        for description in header_refusals(name, values):
            problems.add(header_field(at, name), description)


def header_field(at: str, name: str) -> str:
    """How an error names one header of the map at `at` (`endpoint.headers.X-Team`)."""
    return f"{at}.{name}"


def is_reserved_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIXES)


def header_refusals(name: str, values: tuple[str, ...] | list[str]) -> list[str]:
    """Why a custom header cannot be sent as given (empty when it can), see the module text."""
    refusals = []
    if not _HEADER_NAME.fullmatch(name):
        refusals.append("is not a valid header name (an RFC 9110 token: letters, digits and "
                        "!#$%&'*+-.^_`|~)")
    elif is_reserved_header(name):
        refusals.append("is reserved: flowhooks or the HTTP connection sets it")
    for value in values:
        if bad := _BAD_VALUE_CHAR.search(value):
            char = bad.group()
            what = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)",
                    "\x00": "a NUL character"}.get(char, f"the control character U+{ord(char):04X}")
            refusals.append(f"values must not contain {what}")
            break
    return refusals


def _validate_failure_handling(fh: FailureHandling, at: str, allow_insecure: bool,
                               problems: Violations) -> None:
    for i, trigger in enumerate(fh.triggers):
        if not trigger_is_valid(trigger):
            problems.add(f"{at}.triggers[{i}]",
                         "must be 4xx, 5xx, timeout, network or an HTTP status code")
    if fh.retry.type not in RETRY_TYPES:
        problems.add(f"{at}.retryStrategy.type", "must be linear or exponential")
    if fh.retry.interval_s < 0:
        problems.add(f"{at}.retryStrategy.interval", "must not be negative")
    if not MIN_ATTEMPTS <= fh.retry.attempts <= MAX_ATTEMPTS:
        problems.add(f"{at}.retryStrategy.attempts",
                     f"must be between {MIN_ATTEMPTS} and {MAX_ATTEMPTS}")
    if fh.alert_endpoint and (refusal := url_refusal(fh.alert_endpoint, allow_insecure)):
        problems.add(f"{at}.alertEndpoint", refusal)


def apply_add_remove(current: tuple[str, ...], remove: Iterable[str],
                     add: Iterable[str]) -> tuple[str, ...]:
    """Socotra add/remove semantics: removals first, then additions (an item in both stays)."""
    removed = set(remove)
    kept = [x for x in current if x not in removed]
    return tuple(kept + [x for x in dict.fromkeys(add) if x not in kept])


def apply_header_changes(current: dict[str, tuple[str, ...]], remove: Iterable[str],
                         add: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Header add/remove, removals first; names compare case-insensitively."""
    removed = {name.lower() for name in remove}
    result = {k: v for k, v in current.items() if k.lower() not in removed}
    for name, values in add.items():
        existing = next((k for k in result if k.lower() == name.lower()), None)
        if existing is not None:
            del result[existing]
        result[name] = tuple(values)
    return result
