"""generated/openapi.json: the OpenAPI 3 document of the REST surface (SPEC §12).

The chain, run by `make generate` (scripts/generate.py) after protoc:

1. **Input**: generated/flowhooks_descriptor.pb, the descriptor set (with source info, so with
   the proto comments) that the sidecar hands Envoy's transcoder. Whatever RPCs and HTTP rules
   the proto files hold appear in the document with no change here.
2. **protoc-gen-swagger** (grpc-gateway's OpenAPI 2 generator, Debian package
   `golang-grpc-gateway`, 1.6.4 on bookworm) makes a Swagger 2 document of each proto file,
   with `json_names_for_fields=true`. It is driven as a protoc plugin on a CodeGeneratorRequest
   built from that descriptor set, not through `protoc --swagger_out`, because:
   - 1.6.4 predates proto3 `optional`, and protoc refuses to hand such files to a plugin that
     does not declare the feature (the plugin itself reads them fine: they are synthetic oneofs);
   - it rejects `response_body` on repeated fields, so those are cleared in its copy and applied
     here (Envoy cannot do them either: the sidecar's Lua filter does, see sidecar/envoy.py);
   - with `allow_merge` it drops every service's and method's comments, so it runs per file and
     the documents are merged here.
3. **Conversion** to OpenAPI 3.0.3, mechanical: definitions -> components.schemas, body and
   formData parameters -> requestBody, other parameters get a `schema`, responses get `content`,
   securityDefinitions -> components.securitySchemes, and `$ref`s follow.
4. **Corrections**, so the document says what Envoy's transcoder really accepts and answers:
   - every field typed by its proto3 JSON mapping: lowerCamelCase names, int64 kinds as strings,
     Duration as `"30s"` (pattern), Timestamp as RFC 3339, Struct/Value/ListValue as any JSON,
     wrappers as nullable scalars, bytes as base64, enums by name, int32 ranges;
   - query parameters for every field the path and body leave (the plugin drops them when a
     rule has a body field), by JSON name, repeated ones exploded; a body `*` loses the fields
     the path binds; `response_body` answers are the field (a JSON array for lists); server
     streams are described as newline-delimited JSON, as Envoy prints them;
   - the `google.api.HttpBody` endpoints by their media types (`HTTP_BODY` below);
   - errors: `{code, message, details}` (the transcoder's `convert_grpc_status` and Envoy's own
     local replies, see envoy/envoy.yaml.in) for every 4xx/5xx status SPEC §4 maps;
   - security: `Authorization: Bearer` everywhere but the public paths (`/healthz`,
     `/openapi.json`, Envoy's own routes); `?access_token=` where the RPC's policy allows it; no
     token needed where the policy says the servicer authenticates (signed GitHub and Slack
     webhooks); the `X-Org-Id` header where the policy takes the tenant from it. The policies
     are flowhooks_server.api.policies, the table the interceptor enforces.

The output is a pure function of the descriptor set, the policy table and the plugin version:
`make check-generated` compares it byte for byte.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = ROOT / "generated" / "flowhooks_descriptor.pb"
OUTPUT = ROOT / "generated" / "openapi.json"
PLUGIN = "protoc-gen-swagger"
PLUGIN_ENV = "PROTOC_GEN_SWAGGER"
PLUGIN_PACKAGE = "golang-grpc-gateway"
OPENAPI_VERSION = "3.0.3"
PACKAGE = "flowhooks.v1"
SCHEMAS = "#/components/schemas/"
JSON = "application/json"
F = descriptor_pb2.FieldDescriptorProto
VERBS = ("get", "put", "post", "delete", "patch")
INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
UINT32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1}
INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$"}
UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]{1,20}$"}
SCALARS: dict[int, dict[str, Any]] = {
    F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    F.TYPE_FLOAT: {"type": "number", "format": "float"},
    F.TYPE_INT64: INT64,
    F.TYPE_SINT64: INT64,
    F.TYPE_SFIXED64: INT64,
    F.TYPE_UINT64: UINT64,
    F.TYPE_FIXED64: UINT64,
    F.TYPE_INT32: INT32,
    F.TYPE_SINT32: INT32,
    F.TYPE_SFIXED32: INT32,
    F.TYPE_UINT32: UINT32,
    F.TYPE_FIXED32: UINT32,
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte"},
}
DURATION = {
    "type": "string",
    "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,9})?s$",
    "example": "30s",
    "description": 'A proto3 JSON duration, e.g. `"30s"` or `"0.2s"`.',
}
# Well-known types in their proto3 JSON forms. A dict is inlined; a str names a component.
WELL_KNOWN: dict[str, dict[str, Any] | str] = {
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Duration": DURATION,
    ".google.protobuf.Struct": {"type": "object", "additionalProperties": {}},
    ".google.protobuf.Value": {},
    ".google.protobuf.ListValue": {"type": "array", "items": {}},
    ".google.protobuf.Empty": "Empty",
    ".google.protobuf.Any": "Any",
    ".google.protobuf.FieldMask": {"type": "string"},
    ".google.protobuf.DoubleValue": {**SCALARS[F.TYPE_DOUBLE], "nullable": True},
    ".google.protobuf.FloatValue": {**SCALARS[F.TYPE_FLOAT], "nullable": True},
    ".google.protobuf.Int64Value": {**INT64, "nullable": True},
    ".google.protobuf.UInt64Value": {**UINT64, "nullable": True},
    ".google.protobuf.Int32Value": {**INT32, "nullable": True},
    ".google.protobuf.UInt32Value": {**UINT32, "nullable": True},
    ".google.protobuf.BoolValue": {"type": "boolean", "nullable": True},
    ".google.protobuf.StringValue": {"type": "string", "nullable": True},
    ".google.protobuf.BytesValue": {"type": "string", "format": "byte", "nullable": True},
}
WELL_KNOWN_ENUMS: dict[str, dict[str, Any]] = {
    ".google.protobuf.NullValue": {"nullable": True, "enum": [None]},
}
HTTP_BODY = ".google.api.HttpBody"

ANY_SCHEMA = {
    "type": "object",
    "description": "A protobuf `Any` in proto3 JSON: `@type` names the message, the other "
    "members are its fields (e.g. `google.rpc.BadRequest` with `fieldViolations`).",
    "required": ["@type"],
    "properties": {"@type": {"type": "string",
                             "example": "type.googleapis.com/google.rpc.BadRequest"}},
    "additionalProperties": {},
}
EMPTY_SCHEMA = {"type": "object", "description": "An empty JSON object, `{}`.", "maxProperties": 0}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error, from the server (through the transcoder's `convert_grpc_status`) "
    "or from Envoy itself (its local replies: no route, body or headers too large, upstream "
    "unavailable), with the HTTP status of its gRPC code (SPEC §4).",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {
            "type": "integer",
            "format": "int32",
            "minimum": 0,
            "maximum": 16,
            "description": "The gRPC status code: 3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 "
            "PERMISSION_DENIED, 16 UNAUTHENTICATED, ...",
        },
        "message": {"type": "string", "description": "What went wrong, for a person."},
        "details": {
            "type": "array",
            "description": "Typed details; a validation error carries a `google.rpc.BadRequest` "
            "whose `fieldViolations` name the offending fields.",
            "items": {"$ref": SCHEMAS + "Any"},
        },
    },
}
# (status, component name, description); 413 only where a request body is accepted.
ERRORS = (
    ("400", "BadRequest", "INVALID_ARGUMENT or FAILED_PRECONDITION: the request is malformed or "
     "breaks a rule (see `details`); nothing was changed."),
    ("401", "Unauthenticated", "UNAUTHENTICATED: no token, or an unknown, expired or revoked "
     "one (or a bad GitHub/Slack signature)."),
    ("403", "PermissionDenied", "PERMISSION_DENIED: the token lacks a permission or acts on "
     "another tenant."),
    ("404", "NotFound", "NOT_FOUND: no such resource for this tenant, or no such route."),
    ("409", "Conflict", "ALREADY_EXISTS or ABORTED."),
    ("413", "PayloadTooLarge", "The request body is over 1 MiB (Envoy)."),
    ("429", "ResourceExhausted", "RESOURCE_EXHAUSTED."),
    ("431", "HeadersTooLarge", "The request header block is too large (Envoy)."),
    ("503", "Unavailable", "UNAVAILABLE: the server or its database is not serving."),
    ("default", "Error", "Any other gRPC status (e.g. 500 INTERNAL, 504 DEADLINE_EXCEEDED)."),
)

CLOUDEVENT_SCHEMA = {
    "type": "object",
    "description": "A CloudEvent in the CloudEvents 1.0 JSON format. Optional attributes may be "
    "JSON `null` (absent). Other members are extension attributes, named by 1 to 20 lowercase "
    "letters or digits.",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "minLength": 1, "description": "Unique per `source`."},
        "source": {"type": "string", "minLength": 1, "format": "uri-reference"},
        "type": {"type": "string", "minLength": 1, "example": "com.example.deploy"},
        "subject": {"type": "string", "nullable": True},
        "time": {"type": "string", "format": "date-time", "nullable": True},
        "datacontenttype": {"type": "string", "nullable": True},
        "dataschema": {"type": "string", "format": "uri", "nullable": True},
        "data": {"description": "The event data, any JSON value."},
        "data_base64": {"type": "string", "format": "byte", "nullable": True},
    },
    "additionalProperties": {"description": "An extension attribute: string, number, boolean "
                                            "or null."},
}


def _header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


ORG_HEADER = {"$ref": "#/components/parameters/OrgId"}
ORG_PARAMETER = _header(
    "X-Org-Id", "The tenant (organization UUID) to act on; default: the token's own tenant. "
    "Required with a global token.")

# The HttpBody endpoints: what they take and answer, by media type; keyed by the gRPC path.
# An HttpBody RPC not listed here is described as taking and answering any bytes.
HTTP_BODY_ENDPOINTS: dict[str, dict[str, Any]] = {
    "/flowhooks.v1.InboundService/AcceptEvent": {
        "request": {
            "description": "A CloudEvent in structured mode, a batch of them, or binary mode: the "
            "body is the event's `data`, of the `Content-Type` given (or none), and the "
            "attributes come as `ce-*` headers.",
            "required": False,
            "content": {
                "application/cloudevents+json": {"schema": {"$ref": SCHEMAS + "CloudEventJson"}},
                "application/cloudevents-batch+json": {
                    "schema": {"type": "array", "items": {"$ref": SCHEMAS + "CloudEventJson"}}},
                JSON: {"schema": {"description": "Binary mode: JSON `data`."}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                        "description": "Binary mode: raw data."}},
            },
        },
        "headers": [
            _header("ce-specversion", "Binary mode: the spec version, `1.0`."),
            _header("ce-id", "Binary mode: the event id."),
            _header("ce-source", "Binary mode: the event source (a URI-reference)."),
            _header("ce-type", "Binary mode: the event type."),
            _header("ce-subject", "Binary mode: the subject."),
            _header("ce-time", "Binary mode: the time (RFC 3339)."),
        ],
    },
    "/flowhooks.v1.InboundService/Callback": {
        "request": {
            "description": "Optional: a JSON object, stored as the task's result `data`.",
            "required": False,
            "content": {JSON: {"schema": {"type": "object", "additionalProperties": {}}}},
        },
    },
    "/flowhooks.v1.InboundService/AcceptWebhook": {
        "request": {
            "description": "The webhook as sent: the JSON body of a plain sender (it becomes the "
            "run's `data`; empty is `{}`), a GitHub delivery (JSON or form-encoded "
            "`payload=`), or a Slack request (Events API JSON, or form-encoded `payload=`). The "
            "raw bytes are what signatures are checked against.",
            "required": False,
            "content": {
                JSON: {"schema": {}},
                "application/x-www-form-urlencoded": {"schema": {
                    "type": "object",
                    "properties": {"payload": {"type": "string", "description": "JSON."}},
                    "additionalProperties": {"type": "string"}}},
            },
        },
        "response": {
            "description": "The WorkflowRun started (or that of the first delivery with the same "
            "de-duplication key), Slack's `{challenge}`, or `{reason}` when no run is started "
            "(a GitHub `ping`, a filtered event, a condition that does not hold).",
            "content": {JSON: {"schema": {"anyOf": [
                {"$ref": SCHEMAS + "WorkflowRun"},
                {"type": "object", "required": ["challenge"],
                 "properties": {"challenge": {"type": "string"}}},
                {"type": "object", "required": ["reason"],
                 "properties": {"reason": {"type": "string"}}},
            ]}}},
        },
        "headers": [
            ORG_HEADER,
            _header("Idempotency-Key", "Plain senders: a de-duplication key; a repeat answers the "
                    "first run.", maxLength=255),
            _header("X-GitHub-Event", "GitHub: the event name; marks the request as GitHub's."),
            _header("X-GitHub-Delivery", "GitHub: the delivery id; a redelivery starts no run."),
            _header("X-Hub-Signature-256", "GitHub: `sha256=` + hex HMAC-SHA256 of the body."),
            _header("X-Slack-Signature", "Slack: `v0=` + hex HMAC-SHA256; marks the request as "
                    "Slack's."),
            _header("X-Slack-Request-Timestamp", "Slack: unix seconds, within 300 s of now."),
        ],
    },
}

PUBLIC_PATHS: dict[str, dict[str, Any]] = {
    "/healthz": {"get": {
        "operationId": "Envoy_Healthz",
        "tags": ["Operations"],
        "summary": "Whether the server is serving and its database answers.",
        "description": "Answered by Envoy from its gRPC health checks of the server; no token.",
        "security": [],
        "responses": {
            "200": {"description": "Serving (an empty body)."},
            "503": {"$ref": "#/components/responses/Unavailable"},
        },
    }},
    "/openapi.json": {"get": {
        "operationId": "Envoy_OpenApi",
        "tags": ["Operations"],
        "summary": "This document.",
        "description": "generated/openapi.json, served by Envoy; no token.",
        "security": [],
        "responses": {
            "200": {"description": "The OpenAPI document.",
                    "content": {JSON: {"schema": {"type": "object"}}}},
        },
    }},
}

INFO_DESCRIPTION = """\
The REST surface of flowhooks, as Envoy's gRPC-JSON transcoder serves it on the REST port \
(generated from the proto files by `make generate`; the gRPC services are the same).

- **Auth**: `Authorization: Bearer <token>` on every path but `/healthz` and `/openapi.json`. \
The `/api/v2` inbound paths also take `?access_token=`; signed GitHub and Slack webhooks need \
no token.
- **Tenant**: the `{tenant}` path segment on `/event/{tenant}/...`; elsewhere `X-Org-Id`, \
else the token's own tenant.
- **JSON**: proto3 JSON. Responses use lowerCamelCase names and print every scalar and list \
field; requests accept lowerCamelCase and snake_case names. 64-bit integers are strings, \
durations are strings such as `"30s"`, timestamps are RFC 3339.
- **Errors**: `{"code", "message", "details"}` with the HTTP status of the gRPC code.
- **Lists**: several list endpoints answer a bare JSON array.
"""


class OpenApiError(RuntimeError):
    """The document cannot be made (plugin missing or failing, or an unexpected input)."""


# -- inputs -----------------------------------------------------------------------------------


def find_plugin() -> str:
    found = os.environ.get(PLUGIN_ENV) or shutil.which(PLUGIN)
    if not found:
        raise OpenApiError(
            f"{PLUGIN} not found: it comes with the Debian package {PLUGIN_PACKAGE} "
            f"(`apt-get install -y {PLUGIN_PACKAGE}`, as .ci/run does), or set {PLUGIN_ENV} "
            "to its path")
    return found


def load_policies() -> dict[str, Any]:
    """The interceptor's policy table, {"/pkg.Service/Method": Policy}."""
    try:
        from flowhooks_server.api import policies
    except ImportError:
        sys.path.insert(0, str(ROOT / "src"))
        from flowhooks_server.api import policies
    return dict(policies.POLICIES)


def _rules(method: descriptor_pb2.MethodDescriptorProto):
    if not method.options.HasExtension(annotations_pb2.http):
        return []
    rule = method.options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def _verb_path(rule) -> tuple[str, str] | None:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        return rule.custom.kind.lower(), rule.custom.path
    return kind, getattr(rule, kind)


def swagger_documents(fds: descriptor_pb2.FileDescriptorSet, plugin: str) -> list[dict]:
    """protoc-gen-swagger's Swagger 2 document of each file with a service, in set order."""
    request = plugin_pb2.CodeGeneratorRequest(parameter="json_names_for_fields=true")
    for file in fds.file:
        proto = request.proto_file.add()
        proto.CopyFrom(file)
        for service in proto.service:
            for method in service.method:
                for rule in _rules(method):
                    rule.ClearField("response_body")
        if file.service:
            request.file_to_generate.append(file.name)
    try:
        done = subprocess.run([plugin], input=request.SerializeToString(), capture_output=True,
                              check=False, timeout=120)
    except OSError as exc:
        raise OpenApiError(f"{plugin} could not run: {exc}") from exc
    if done.returncode != 0:
        raise OpenApiError(f"{plugin} failed ({done.returncode}): {done.stderr.decode()}")
    response = plugin_pb2.CodeGeneratorResponse.FromString(done.stdout)
    if response.error:
        raise OpenApiError(f"{plugin}: {response.error}")
    return [json.loads(file.content) for file in response.file]


class Index:
    """Messages, enums, services and comments of a descriptor set, by full name (`.pkg.Name`)."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet):
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[tuple[str, tuple[int, ...]], str] = {}
        self.field_comments: dict[str, dict[str, str]] = {}
        self.message_comments: dict[str, str] = {}
        self.services: list[tuple[descriptor_pb2.FileDescriptorProto,
                                  descriptor_pb2.ServiceDescriptorProto, int]] = []
        self.order: list[str] = []  # every message and enum, as protoc-gen-swagger sees them
        for file in fds.file:
            comments = {tuple(loc.path): _comment(loc.leading_comments)
                        for loc in file.source_code_info.location if loc.leading_comments}
            scope = f".{file.package}" if file.package else ""
            self._walk(file.message_type, scope, (4,), comments)
            for enum in file.enum_type:
                self._enum(enum, f"{scope}.{enum.name}")
            for i, service in enumerate(file.service):
                self.services.append((file, service, i))
                self.comments[(file.name, (6, i))] = comments.get((6, i), "")
                for j, _ in enumerate(service.method):
                    self.comments[(file.name, (6, i, 2, j))] = comments.get((6, i, 2, j), "")

    def _walk(self, messages, scope: str, path: tuple[int, ...], comments) -> None:
        for i, message in enumerate(messages):
            full = f"{scope}.{message.name}"
            self.messages[full] = message
            self.order.append(full)
            here = (*path, i)
            self.message_comments[full] = comments.get(here, "")
            self.field_comments[full] = {
                field.name: comments.get((*here, 2, j), "")
                for j, field in enumerate(message.field)}
            self._walk(message.nested_type, full, (*here, 3), comments)
            for enum in message.enum_type:
                self._enum(enum, f"{full}.{enum.name}")

    def _enum(self, enum, full: str) -> None:
        self.enums[full] = enum
        self.order.append(full)

    def swagger_names(self) -> dict[str, str]:
        """{protoc-gen-swagger definition name: full name}: its shortest unique suffix of
        the dotted full name plus one more component, joined (grpc-gateway v1's
        resolveFullyQualifiedNameToSwaggerNames)."""
        counts: dict[int, Counter] = defaultdict(Counter)
        split = {name: name.split(".") for name in self.order}
        for parts in split.values():
            for depth in range(len(parts)):
                counts[depth][tuple(parts[len(parts) - depth:])] += 1
        names: dict[str, str] = {}
        for full, parts in split.items():
            for depth in range(len(parts)):
                if counts[depth][tuple(parts[len(parts) - depth:])] == 1:
                    names["".join(parts[len(parts) - depth - 1:])] = full
                    break
                if depth == len(parts) - 1:
                    names["".join(parts)] = full
        return names


def _comment(text: str) -> str:
    """A `//` comment's text without the space each line starts with."""
    return "\n".join(line[1:] if line.startswith(" ") else line
                     for line in text.split("\n")).strip()


def component_name(full: str) -> str:
    """`.flowhooks.v1.Webhook` -> `Webhook`; other packages keep their full name."""
    prefix = f".{PACKAGE}."
    return full[len(prefix):] if full.startswith(prefix) else full.lstrip(".")


# -- Swagger 2 -> OpenAPI 3, mechanically -------------------------------------------------------


def _convert_schema(schema: Any, refs: dict[str, str]) -> Any:
    if isinstance(schema, list):
        return [_convert_schema(item, refs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#/definitions/"):
            name = value[len("#/definitions/"):]
            out[key] = SCHEMAS + refs.get(name, name)
        elif key == "format" and value == "boolean":
            continue  # not an OpenAPI format
        elif key == "x-nullable":
            out["nullable"] = value
        elif key == "type" and value == "file":
            out.update(type="string", format="binary")
        elif key in ("properties", "definitions"):
            out[key] = {name: _convert_schema(sub, refs) for name, sub in value.items()}
        else:
            out[key] = _convert_schema(value, refs)
    if "$ref" in out and len(out) > 1:  # siblings of $ref are ignored in 3.0
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


_PARAMETER_SCHEMA_KEYS = ("type", "format", "items", "enum", "default", "minimum", "maximum",
                          "pattern", "minLength", "maxLength", "minItems", "maxItems")


def _convert_operation(op: dict, consumes: list[str], produces: list[str],
                       refs: dict[str, str]) -> dict:
    out: dict[str, Any] = {}
    params, form = [], {}
    for key, value in op.items():
        if key != "parameters":
            if key == "responses":
                out[key] = {
                    code: {
                        "description": response.get("description", ""),
                        **({"content": {media: {"schema": _convert_schema(response["schema"],
                                                                          refs)}
                                        for media in op.get("produces", produces)}}
                           if "schema" in response else {}),
                    } for code, response in value.items()}
            elif key not in ("consumes", "produces", "schemes"):
                out[key] = _convert_schema(value, refs)
            continue
        for param in value:
            where = param.get("in")
            if where == "body":
                out["requestBody"] = {
                    **({"description": param["description"]} if "description" in param else {}),
                    "required": bool(param.get("required")),
                    "content": {media: {"schema": _convert_schema(param["schema"], refs)}
                                for media in op.get("consumes", consumes)},
                }
            elif where == "formData":
                form[param["name"]] = {k: param[k] for k in _PARAMETER_SCHEMA_KEYS if k in param}
            else:
                converted = {k: param[k] for k in ("name", "in", "description", "required")
                             if k in param}
                converted["schema"] = _convert_schema(
                    {k: param[k] for k in _PARAMETER_SCHEMA_KEYS if k in param}, refs)
                if param.get("type") == "array":
                    fmt = param.get("collectionFormat", "csv")
                    converted.update({"multi": {"style": "form", "explode": True},
                                      "ssv": {"style": "spaceDelimited", "explode": False},
                                      "pipes": {"style": "pipeDelimited", "explode": False},
                                      }.get(fmt, {"style": "form" if where == "query"
                                                  else "simple", "explode": False}))
                params.append(converted)
    if form:
        out["requestBody"] = {"content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": form}}}}
    if params:
        out["parameters"] = params
    return out


def _convert_security_scheme(scheme: dict) -> dict:
    kind = scheme.get("type")
    described = {"description": scheme["description"]} if "description" in scheme else {}
    if kind == "basic":
        return {"type": "http", "scheme": "basic", **described}
    if kind == "apiKey":
        return {"type": "apiKey", "name": scheme["name"], "in": scheme["in"], **described}
    flow = {"implicit": "implicit", "password": "password", "application": "clientCredentials",
            "accessCode": "authorizationCode"}[scheme["flow"]]
    body = {"scopes": scheme.get("scopes", {})}
    for key, target in (("authorizationUrl", "authorizationUrl"), ("tokenUrl", "tokenUrl")):
        if key in scheme:
            body[target] = scheme[key]
    return {"type": "oauth2", "flows": {flow: body}, **described}


def swagger_to_openapi(swagger: dict, refs: dict[str, str]) -> dict:
    """One Swagger 2 document in OpenAPI 3.0.3; `refs` renames definitions."""
    consumes = swagger.get("consumes", [JSON])
    produces = swagger.get("produces", [JSON])
    paths = {
        path: {verb: _convert_operation(op, consumes, produces, refs) if verb in VERBS else op
               for verb, op in item.items()}
        for path, item in swagger.get("paths", {}).items()
    }
    components: dict[str, Any] = {
        "schemas": {refs.get(name, name): _convert_schema(schema, refs)
                    for name, schema in swagger.get("definitions", {}).items()}}
    if "securityDefinitions" in swagger:
        components["securitySchemes"] = {
            name: _convert_security_scheme(scheme)
            for name, scheme in swagger["securityDefinitions"].items()}
    doc = {"openapi": OPENAPI_VERSION, "info": swagger.get("info", {}), "paths": paths,
           "components": components}
    if "security" in swagger:
        doc["security"] = swagger["security"]
    return doc


def merge(documents: list[dict]) -> dict:
    """The union of several converted documents; a name defined twice must agree."""
    merged: dict[str, Any] = {"paths": {}, "components": {"schemas": {}}}
    for doc in documents:
        for path, item in doc["paths"].items():
            target = merged["paths"].setdefault(path, {})
            for verb, op in item.items():
                if verb in target:
                    raise OpenApiError(f"{verb.upper()} {path} is bound twice")
                target[verb] = op
        for name, schema in doc["components"]["schemas"].items():
            have = merged["components"]["schemas"].setdefault(name, schema)
            if have != schema:
                raise OpenApiError(f"schema {name} differs between files")
    return merged


# -- corrections: what the transcoder really accepts and answers ------------------------------


class Builder:
    def __init__(self, index: Index, converted: dict, policies: dict[str, Any]):
        self.index = index
        self.plugin = converted
        self.policies = policies
        self.schemas: dict[str, Any] = {}
        self.paths: dict[str, dict[str, Any]] = {}

    # schemas

    def field_schema(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        """The proto3 JSON schema of one field, lists and maps included."""
        if field.type == F.TYPE_MESSAGE:
            entry = self.index.messages.get(field.type_name)
            if entry is not None and entry.options.map_entry:
                value = next(f for f in entry.field if f.number == 2)
                return {"type": "object", "additionalProperties": self.value_schema(value)}
        single = self.value_schema(field)
        if field.label == F.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def value_schema(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        if field.type == F.TYPE_MESSAGE:
            known = WELL_KNOWN.get(field.type_name)
            if isinstance(known, dict):
                return copy.deepcopy(known)
            return {"$ref": SCHEMAS + self.message_component(field.type_name)}
        if field.type == F.TYPE_ENUM:
            if field.type_name in WELL_KNOWN_ENUMS:
                return copy.deepcopy(WELL_KNOWN_ENUMS[field.type_name])
            return {"$ref": SCHEMAS + self.enum_component(field.type_name)}
        if field.type == F.TYPE_GROUP:
            raise OpenApiError(f"{field.name}: groups have no JSON form")
        return copy.deepcopy(SCALARS[field.type])

    def message_component(self, full: str, without: frozenset[str] = frozenset()) -> str:
        """The component of message `full` (minus fields `without`, bound elsewhere)."""
        known = WELL_KNOWN.get(full)
        if isinstance(known, str):
            self.schemas[known] = copy.deepcopy({"Empty": EMPTY_SCHEMA, "Any": ANY_SCHEMA}[known])
            return known
        name = component_name(full)
        if without:
            name += "Body"
        if name in self.schemas:
            return name
        message = self.index.messages[full]
        plugin = self.plugin_schema(full)
        schema: dict[str, Any] = {"type": "object"}
        text = plugin.get("description") or self.index.message_comments.get(full)
        if text:
            schema["description"] = text
        self.schemas[name] = schema  # before the fields: messages may be recursive
        properties: dict[str, Any] = {}
        described = plugin.get("properties", {})
        for field in message.field:
            if field.name in without:
                continue
            prop = self.field_schema(field)
            text = (described.get(field.json_name, {}).get("description")
                    or self.index.field_comments[full].get(field.name))
            properties[field.json_name] = _describe(prop, text)
        if properties:
            schema["properties"] = properties
        return name

    def enum_component(self, full: str) -> str:
        name = component_name(full)
        if name not in self.schemas:
            plugin = self.plugin_schema(full)
            enum = self.index.enums[full]
            self.schemas[name] = {
                "type": "string",
                **({"description": plugin["description"]} if plugin.get("description") else {}),
                "enum": [value.name for value in enum.value],
            }
        return name

    def plugin_schema(self, full: str) -> dict[str, Any]:
        return self.plugin["components"]["schemas"].get(component_name(full), {})

    # operations

    def operations(self) -> None:
        for file, service, si in self.index.services:
            for mi, method in enumerate(service.method):
                rpc = f"/{file.package}.{service.name}/{method.name}"
                comment = self.index.comments[(file.name, (6, si, 2, mi))]
                for bi, rule in enumerate(_rules(method)):
                    found = _verb_path(rule)
                    if found is None:
                        continue
                    verb, template = found
                    path = re.sub(r"\{([^}=]+)(=[^}]*)?\}", r"{\1}", template)
                    plugin_op = self.plugin["paths"].get(path, {}).get(verb)
                    if plugin_op is None:
                        raise OpenApiError(f"{verb.upper()} {path} ({rpc}) is missing from "
                                           f"{PLUGIN}'s output")
                    op_id = f"{service.name}_{method.name}" + (str(bi + 1) if bi else "")
                    op = self.operation(rpc, method, rule, verb, path, op_id, comment)
                    op["tags"] = [service.name]
                    item = self.paths.setdefault(path, {})
                    if verb in item:
                        raise OpenApiError(f"{verb.upper()} {path} is bound twice")
                    item[verb] = op

    def operation(self, rpc, method, rule, verb, path, op_id, comment) -> dict[str, Any]:
        policy = self.policies.get(rpc)
        special = HTTP_BODY_ENDPOINTS.get(rpc, {})
        request = self.index.messages[method.input_type]
        fields = {f.name: f for f in request.field}
        comments = self.index.field_comments[method.input_type]
        bound = [name.split(".")[0] for name in re.findall(r"\{([^}=]+)", path)]
        op: dict[str, Any] = {"operationId": op_id}
        if comment:
            first = re.split(r"(?<=\.)\s", comment, maxsplit=1)[0].replace("\n", " ")
            op["summary"] = first
            op["description"] = comment
        parameters: list[dict[str, Any]] = []
        for name in bound:
            field = fields[name]
            parameters.append(_describe_parameter(
                {"name": name, "in": "path", "required": True,
                 "schema": self.value_schema(field)}, comments.get(name)))
        body = rule.body
        query_token = bool(policy and policy.query_token)
        if body != "*":
            for field in request.field:
                if field.name in bound or field.name == body:
                    continue
                if query_token and field.name == "access_token":
                    continue
                schema = self.query_schema(field)
                if schema is None:
                    continue
                param = {"name": field.json_name, "in": "query", "required": False,
                         "schema": schema}
                if schema.get("type") == "array":
                    param.update(style="form", explode=True)
                parameters.append(_describe_parameter(param, comments.get(field.name)))
        if policy is not None and policy.tenant == "org":
            parameters.append(ORG_HEADER)
        parameters += [h for h in special.get("headers", []) if h not in parameters]
        if parameters:
            op["parameters"] = parameters
        request_body = self.request_body(method, body, frozenset(bound), special)
        if request_body:
            op["requestBody"] = request_body
        op["responses"] = {"200": self.success(method, rule, special),
                           **_error_responses(with_body="requestBody" in op)}
        security = self.security(policy)
        if security is not None:
            op["security"] = security
        if policy is not None:
            op["x-flowhooks-permissions"] = list(policy.permissions)
        return op

    def query_schema(self, field) -> dict[str, Any] | None:
        """A query parameter's schema: scalars, enums and wrappers (and lists of them)."""
        if field.type == F.TYPE_MESSAGE:
            known = WELL_KNOWN.get(field.type_name)
            entry = self.index.messages.get(field.type_name)
            if (field.label == F.LABEL_REPEATED or not isinstance(known, dict)
                    or not known.get("nullable") or (entry and entry.options.map_entry)):
                return None
            schema = copy.deepcopy(known)
            schema.pop("nullable")
            return schema
        return self.field_schema(field)

    def request_body(self, method, body: str, bound: frozenset[str],
                     special: dict) -> dict[str, Any] | None:
        if not body:
            return None
        request = self.index.messages[method.input_type]
        if body == "*":
            if all(f.name in bound for f in request.field):
                return None  # nothing left for a body to carry (Envoy ignores one)
            name = self.message_component(method.input_type, bound)
            return {"required": False, "content": {JSON: {"schema": {"$ref": SCHEMAS + name}}}}
        field = next(f for f in request.field if f.name == body)
        if field.type_name == HTTP_BODY:
            default = {"required": False, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}
            out = copy.deepcopy(special.get("request", default))
            if "CloudEventJson" in json.dumps(out):
                self.schemas["CloudEventJson"] = copy.deepcopy(CLOUDEVENT_SCHEMA)
            return out
        described = self.index.field_comments[method.input_type].get(field.name)
        return {**({"description": described} if described else {}), "required": False,
                "content": {JSON: {"schema": self.field_schema(field)}}}

    def success(self, method, rule, special: dict) -> dict[str, Any]:
        if method.output_type == HTTP_BODY:
            default = {"description": "Any bytes, of the Content-Type the server sets.",
                       "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
            out = copy.deepcopy(special.get("response", default))
            _collect_refs(out, self)
            return out
        names = {r.response_body for r in _rules(method)} - {""}
        schema: dict[str, Any]
        if rule.response_body or names:
            field_name = rule.response_body or next(iter(names))
            output = self.index.messages[method.output_type]
            field = next(f for f in output.field if f.name == field_name)
            schema = self.field_schema(field)
            description = f"The `{field.json_name}` of {component_name(method.output_type)}"
            if field.label == F.LABEL_REPEATED:
                description += ", as a bare JSON array."
            else:
                description += "."
        else:
            schema = {"$ref": SCHEMAS + self.message_component(method.output_type)}
            description = "OK."
        _collect_refs(schema, self)
        out: dict[str, Any] = {"description": description,
                               "content": {JSON: {"schema": schema}}}
        if method.server_streaming:
            out["description"] = (
                "A stream, as newline-delimited JSON: each line is one message of this schema, "
                "written as it happens, for as long as the client keeps the request open "
                "(`Content-Type: application/json`). A failure after the first line ends the "
                "stream with `grpc-status`/`grpc-message` trailers.")
            out["x-flowhooks-stream"] = "newline-delimited"
        return out

    def security(self, policy) -> list[dict[str, list]] | None:
        """None keeps the document's default, bearer only."""
        if policy is None:
            return None
        options: list[dict[str, list]] = [{"bearerAuth": []}]
        if policy.query_token:
            options.append({"accessToken": []})
        if policy.token == "optional":
            options.append({})
        return options if len(options) > 1 else None


def _describe(schema: dict[str, Any], text: str | None) -> dict[str, Any]:
    if not text:
        return schema
    if "$ref" in schema:
        return {"allOf": [schema], "description": text}
    extra = schema.get("description")
    return {**schema, "description": f"{text}\n\n{extra}" if extra else text}


def _describe_parameter(param: dict[str, Any], text: str | None) -> dict[str, Any]:
    if text:
        param = {"name": param["name"], "in": param["in"], "description": text,
                 **{k: v for k, v in param.items() if k not in ("name", "in")}}
    return param


def _error_responses(with_body: bool) -> dict[str, Any]:
    return {status: {"$ref": f"#/components/responses/{name}"}
            for status, name, _ in ERRORS if with_body or status != "413"}


def _collect_refs(schema: Any, builder: Builder) -> None:
    """Make sure every component a hand-written schema names is built."""
    for ref in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)):
        if ref in builder.schemas:
            continue
        full = f".{PACKAGE}.{ref}"
        if full in builder.index.messages:
            builder.message_component(full)
        else:
            raise OpenApiError(f"unknown schema {ref}")


def _referenced(doc: dict) -> set[str]:
    """Every schema component reachable from the paths."""
    schemas = doc["components"]["schemas"]
    text = json.dumps([doc["paths"], doc["components"].get("responses", {})])
    todo = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo |= set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schemas[name])))
    return seen


def build(descriptor: bytes, policies: dict[str, Any] | None = None,
          plugin: str | None = None) -> dict:
    """The OpenAPI document of a serialized FileDescriptorSet."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor)
    index = Index(fds)
    names = index.swagger_names()
    swaggers = swagger_documents(fds, plugin or find_plugin())
    refs = {name: component_name(full) for name, full in names.items()}
    for swagger in swaggers:
        unknown = set(swagger.get("definitions", {})) - set(refs)
        if unknown:
            raise OpenApiError(f"{PLUGIN} named definitions this script cannot place: "
                               f"{sorted(unknown)}")
    converted = merge([swagger_to_openapi(s, refs) for s in swaggers])
    builder = Builder(index, converted, load_policies() if policies is None else policies)
    builder.operations()
    for path, item in PUBLIC_PATHS.items():
        if path in builder.paths:
            raise OpenApiError(f"{path} is Envoy's own route, not an RPC's")
        builder.paths[path] = copy.deepcopy(item)
    tags = [{"name": service.name,
             **({"description": text} if (text := index.comments[(file.name, (6, si))]) else {})}
            for file, service, si in index.services
            if any(_rules(method) for method in service.method)]
    tags.append({"name": "Operations", "description": "Envoy's own routes: health and this "
                                                      "document."})
    responses = {name: {"description": text, "content": {JSON: {"schema": {"$ref": SCHEMAS +
                                                                            "Error"}}}}
                 for _, name, text in ERRORS}
    builder.schemas["Error"] = copy.deepcopy(ERROR_SCHEMA)
    builder.schemas.setdefault("Any", copy.deepcopy(ANY_SCHEMA))
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "flowhooks REST API", "version": PACKAGE.rsplit(".", 1)[-1],
                 "description": INFO_DESCRIPTION},
        "tags": tags,
        "security": [{"bearerAuth": []}],
        "paths": {path: {verb: builder.paths[path][verb]
                         for verb in VERBS if verb in builder.paths[path]}
                  for path in sorted(builder.paths)},
        "components": {
            "schemas": builder.schemas,
            "responses": responses,
            "parameters": {"OrgId": ORG_PARAMETER},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token: `Authorization: Bearer <token>`."},
                "accessToken": {"type": "apiKey", "in": "query", "name": "access_token",
                                "description": "The token as `?access_token=`, on the /api/v2 "
                                               "inbound paths only."},
            },
        },
    }
    keep = _referenced(doc)
    doc["components"]["schemas"] = {name: builder.schemas[name]
                                    for name in sorted(builder.schemas) if name in keep}
    return doc


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write(descriptor: Path = DESCRIPTOR, output: Path = OUTPUT) -> None:
    output.write_text(render(build(descriptor.read_bytes())), encoding="utf-8")


def main() -> int:
    try:
        write()
    except OpenApiError as exc:
        print(f"openapi: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
