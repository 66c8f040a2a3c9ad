import datetime

from flowhooks.v1 import failure_handling_pb2 as _failure_handling_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Endpoint(_message.Message):
    __slots__ = ("url", "headers", "secret")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.ListValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ...) -> None: ...
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    url: str
    headers: _containers.MessageMap[str, _struct_pb2.ListValue]
    secret: str
    def __init__(self, url: _Optional[str] = ..., headers: _Optional[_Mapping[str, _struct_pb2.ListValue]] = ..., secret: _Optional[str] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("locator", "name", "enabled", "endpoint", "failure_handling", "suspended", "suspended_at", "event_types", "created_at", "updated_at", "timeout", "format", "ordered")
    LOCATOR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_HANDLING_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    locator: str
    name: str
    enabled: bool
    endpoint: Endpoint
    failure_handling: _failure_handling_pb2.FailureHandling
    suspended: bool
    suspended_at: _timestamp_pb2.Timestamp
    event_types: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    timeout: _duration_pb2.Duration
    format: str
    ordered: bool
    def __init__(self, locator: _Optional[str] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., endpoint: _Optional[_Union[Endpoint, _Mapping]] = ..., failure_handling: _Optional[_Union[_failure_handling_pb2.FailureHandling, _Mapping]] = ..., suspended: _Optional[bool] = ..., suspended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_types: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., format: _Optional[str] = ..., ordered: _Optional[bool] = ...) -> None: ...

class GetWebhookRequest(_message.Message):
    __slots__ = ("tenant", "webhook")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ...) -> None: ...

class ListWebhooksRequest(_message.Message):
    __slots__ = ("tenant", "offset", "count", "name", "enabled", "suspended", "active", "event_types", "page_size", "page_token")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    offset: int
    count: int
    name: str
    enabled: bool
    suspended: bool
    active: bool
    event_types: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    page_token: str
    def __init__(self, tenant: _Optional[str] = ..., offset: _Optional[int] = ..., count: _Optional[int] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., suspended: _Optional[bool] = ..., active: _Optional[bool] = ..., event_types: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWebhooksResponse(_message.Message):
    __slots__ = ("webhooks", "next_page_token")
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    next_page_token: str
    def __init__(self, webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateWebhookRequest(_message.Message):
    __slots__ = ("tenant", "name", "enabled", "endpoint", "failure_handling", "event_types", "timeout", "format", "ordered")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_HANDLING_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    enabled: bool
    endpoint: Endpoint
    failure_handling: _failure_handling_pb2.FailureHandling
    event_types: _containers.RepeatedScalarFieldContainer[str]
    timeout: _duration_pb2.Duration
    format: str
    ordered: bool
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., endpoint: _Optional[_Union[Endpoint, _Mapping]] = ..., failure_handling: _Optional[_Union[_failure_handling_pb2.FailureHandling, _Mapping]] = ..., event_types: _Optional[_Iterable[str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., format: _Optional[str] = ..., ordered: _Optional[bool] = ...) -> None: ...

class UpdateEndpoint(_message.Message):
    __slots__ = ("url", "add_headers", "remove_headers", "secret")
    class AddHeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.ListValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ...) -> None: ...
    URL_FIELD_NUMBER: _ClassVar[int]
    ADD_HEADERS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_HEADERS_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    url: str
    add_headers: _containers.MessageMap[str, _struct_pb2.ListValue]
    remove_headers: _containers.RepeatedScalarFieldContainer[str]
    secret: str
    def __init__(self, url: _Optional[str] = ..., add_headers: _Optional[_Mapping[str, _struct_pb2.ListValue]] = ..., remove_headers: _Optional[_Iterable[str]] = ..., secret: _Optional[str] = ...) -> None: ...

class UpdateWebhookRequest(_message.Message):
    __slots__ = ("tenant", "webhook", "name", "enabled", "endpoint", "failure_handling", "remove_failure_handling", "add_event_types", "remove_event_types", "timeout", "format", "ordered")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_HANDLING_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FAILURE_HANDLING_FIELD_NUMBER: _ClassVar[int]
    ADD_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    REMOVE_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    name: str
    enabled: bool
    endpoint: UpdateEndpoint
    failure_handling: _failure_handling_pb2.FailureHandling
    remove_failure_handling: bool
    add_event_types: _containers.RepeatedScalarFieldContainer[str]
    remove_event_types: _containers.RepeatedScalarFieldContainer[str]
    timeout: _duration_pb2.Duration
    format: str
    ordered: bool
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., endpoint: _Optional[_Union[UpdateEndpoint, _Mapping]] = ..., failure_handling: _Optional[_Union[_failure_handling_pb2.FailureHandling, _Mapping]] = ..., remove_failure_handling: _Optional[bool] = ..., add_event_types: _Optional[_Iterable[str]] = ..., remove_event_types: _Optional[_Iterable[str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., format: _Optional[str] = ..., ordered: _Optional[bool] = ...) -> None: ...

class UnsuspendWebhookRequest(_message.Message):
    __slots__ = ("tenant", "webhook")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ...) -> None: ...

class DeleteWebhookRequest(_message.Message):
    __slots__ = ("tenant", "webhook")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ...) -> None: ...

class GetWebhookSecretRequest(_message.Message):
    __slots__ = ("tenant", "webhook")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ...) -> None: ...

class RotateWebhookSecretRequest(_message.Message):
    __slots__ = ("tenant", "webhook", "key", "grace_period")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    key: str
    grace_period: _duration_pb2.Duration
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ..., key: _Optional[str] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WebhookSecret(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...
