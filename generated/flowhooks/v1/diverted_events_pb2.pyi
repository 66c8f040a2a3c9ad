import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DivertedEvent(_message.Message):
    __slots__ = ("event_locator", "request_locator", "failure_message", "failure_timestamp", "failure_trigger", "webhook_locator", "event_type", "resend_pending")
    EVENT_LOCATOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_LOCATOR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    FAILURE_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_LOCATOR_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESEND_PENDING_FIELD_NUMBER: _ClassVar[int]
    event_locator: str
    request_locator: str
    failure_message: str
    failure_timestamp: _timestamp_pb2.Timestamp
    failure_trigger: str
    webhook_locator: str
    event_type: str
    resend_pending: bool
    def __init__(self, event_locator: _Optional[str] = ..., request_locator: _Optional[str] = ..., failure_message: _Optional[str] = ..., failure_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_trigger: _Optional[str] = ..., webhook_locator: _Optional[str] = ..., event_type: _Optional[str] = ..., resend_pending: _Optional[bool] = ...) -> None: ...

class ListDivertedEventsRequest(_message.Message):
    __slots__ = ("tenant", "webhook", "offset", "count")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    offset: int
    count: int
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ..., offset: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class ListDivertedEventsResponse(_message.Message):
    __slots__ = ("diverted_events",)
    DIVERTED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    diverted_events: _containers.RepeatedCompositeFieldContainer[DivertedEvent]
    def __init__(self, diverted_events: _Optional[_Iterable[_Union[DivertedEvent, _Mapping]]] = ...) -> None: ...

class GetDivertedEventRequest(_message.Message):
    __slots__ = ("tenant", "webhook", "event")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    event: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ..., event: _Optional[str] = ...) -> None: ...

class ResendDivertedEventRequest(_message.Message):
    __slots__ = ("tenant", "webhook", "event")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    event: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ..., event: _Optional[str] = ...) -> None: ...

class DeleteDivertedEventRequest(_message.Message):
    __slots__ = ("tenant", "webhook", "event")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    webhook: str
    event: str
    def __init__(self, tenant: _Optional[str] = ..., webhook: _Optional[str] = ..., event: _Optional[str] = ...) -> None: ...
