from flowhooks.v1 import cloudevent_pb2 as _cloudevent_pb2
from flowhooks.v1 import runs_pb2 as _runs_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AcceptEventRequest(_message.Message):
    __slots__ = ("ref", "workflow", "access_token", "body")
    REF_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ref: str
    workflow: str
    access_token: str
    body: _httpbody_pb2.HttpBody
    def __init__(self, ref: _Optional[str] = ..., workflow: _Optional[str] = ..., access_token: _Optional[str] = ..., body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class AcceptCloudEventRequest(_message.Message):
    __slots__ = ("ref", "event")
    REF_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ref: str
    event: _cloudevent_pb2.CloudEvent
    def __init__(self, ref: _Optional[str] = ..., event: _Optional[_Union[_cloudevent_pb2.CloudEvent, _Mapping]] = ...) -> None: ...

class AcceptEventResponse(_message.Message):
    __slots__ = ("event_id", "workflow_runs", "event_ids")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_RUNS_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    workflow_runs: _containers.RepeatedCompositeFieldContainer[_runs_pb2.WorkflowRun]
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., workflow_runs: _Optional[_Iterable[_Union[_runs_pb2.WorkflowRun, _Mapping]]] = ..., event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CallbackRequest(_message.Message):
    __slots__ = ("ref", "workflowrun", "topic", "status", "access_token", "body")
    REF_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWRUN_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ref: str
    workflowrun: str
    topic: str
    status: str
    access_token: str
    body: _httpbody_pb2.HttpBody
    def __init__(self, ref: _Optional[str] = ..., workflowrun: _Optional[str] = ..., topic: _Optional[str] = ..., status: _Optional[str] = ..., access_token: _Optional[str] = ..., body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class AcceptWebhookRequest(_message.Message):
    __slots__ = ("ref", "workflow", "access_token", "body")
    REF_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ref: str
    workflow: str
    access_token: str
    body: _httpbody_pb2.HttpBody
    def __init__(self, ref: _Optional[str] = ..., workflow: _Optional[str] = ..., access_token: _Optional[str] = ..., body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...
