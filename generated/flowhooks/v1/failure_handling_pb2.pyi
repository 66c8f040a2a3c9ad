import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RetryStrategy(_message.Message):
    __slots__ = ("type", "interval", "attempts")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    type: str
    interval: _duration_pb2.Duration
    attempts: int
    def __init__(self, type: _Optional[str] = ..., interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., attempts: _Optional[int] = ...) -> None: ...

class FailureHandling(_message.Message):
    __slots__ = ("triggers", "retry_strategy", "alert_endpoint", "divert", "suspend")
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    RETRY_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    ALERT_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    DIVERT_FIELD_NUMBER: _ClassVar[int]
    SUSPEND_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedScalarFieldContainer[str]
    retry_strategy: RetryStrategy
    alert_endpoint: str
    divert: bool
    suspend: bool
    def __init__(self, triggers: _Optional[_Iterable[str]] = ..., retry_strategy: _Optional[_Union[RetryStrategy, _Mapping]] = ..., alert_endpoint: _Optional[str] = ..., divert: _Optional[bool] = ..., suspend: _Optional[bool] = ...) -> None: ...
