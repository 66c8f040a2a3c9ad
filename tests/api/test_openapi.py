"""SPEC §12: generated/openapi.json, the OpenAPI 3 document of the REST surface.

It is valid OpenAPI, is what scripts/openapi.py makes from the descriptor set Envoy loads (so
every HTTP rule of the protos is in it), says what the transcoder really does (proto3 JSON
forms, errors, HttpBody media types, bearer auth), and is served as it is at GET /openapi.json
without a token. tests/envoy/test_openapi_fuzz.py holds the live stack to it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import google.api
import grpc_tools
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from grpc_tools import protoc
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "generated" / "openapi.json"
DESCRIPTOR = ROOT / "generated" / "flowhooks_descriptor.pb"
F = descriptor_pb2.FieldDescriptorProto
INT64_KINDS = {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64}


def _load_generator():
    spec = importlib.util.spec_from_file_location("flowhooks_openapi_generator",
                                                  ROOT / "scripts" / "openapi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


openapi = _load_generator()
DOC = json.loads(OPENAPI.read_text())


def _plugin_or_skip() -> str:
    """The plugin; outside CI a machine without it skips the tests that run it (.ci/run
    installs it, so CI never skips)."""
    found = os.environ.get(openapi.PLUGIN_ENV) or shutil.which(openapi.PLUGIN)
    if not found and not os.environ.get("CI"):
        pytest.skip(f"{openapi.PLUGIN} is not installed (apt-get install -y "
                    f"{openapi.PLUGIN_PACKAGE})")
    return openapi.find_plugin()


def _operations(doc=DOC):
    for path, item in doc["paths"].items():
        for verb, op in item.items():
            yield path, verb, op


def _deref(ref: str, doc=DOC):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _schema(name: str, doc=DOC) -> dict:
    return doc["components"]["schemas"][name]


def _prop(schema: dict, name: str) -> dict:
    prop = schema["properties"][name]
    if "allOf" in prop:
        return prop["allOf"][0]
    return prop


# -- the document itself ----------------------------------------------------------------------


def test_document_is_valid_openapi_3():
    assert DOC["openapi"].startswith("3.")
    validate(DOC)


def test_document_is_what_the_generator_makes_every_time():
    """Deterministic, and current with the descriptor set (as `make check-generated` says)."""
    plugin = _plugin_or_skip()
    first = openapi.render(openapi.build(DESCRIPTOR.read_bytes(), plugin=plugin))
    second = openapi.render(openapi.build(DESCRIPTOR.read_bytes(), plugin=plugin))
    assert first == second
    assert first == OPENAPI.read_text(), "generated/openapi.json is stale: run `make generate`"


def test_every_http_rule_of_the_descriptor_set_is_an_operation():
    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes())
    expected = set()
    for file in fds.file:
        for service in file.service:
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                for binding in (rule, *rule.additional_bindings):
                    verb = binding.WhichOneof("pattern")
                    expected.add((verb, getattr(binding, verb)))
    documented = {(verb, path) for path, verb, op in _operations() if op["operationId"]
                  and not op["operationId"].startswith("Envoy_")}
    assert documented == expected
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids))


def test_known_paths_and_methods():
    paths = DOC["paths"]
    assert {"get", "patch", "delete"} <= set(paths["/event/{tenant}/webhooks/{webhook}"])
    assert "post" in paths["/event/{tenant}/webhooks"]
    assert {"get", "patch", "delete"} <= set(paths["/webhooks/{id}"])
    assert {"get", "post"} <= set(paths["/webhooks"])
    assert {"get", "post"} <= set(paths["/api/v2/callback"])
    assert "post" in paths["/api/v2/webhook"] and "post" in paths["/api/v2/event"]
    assert "get" in paths["/webhooks/{id}/secret"]
    assert "post" in paths["/event/{tenant}/webhooks/{webhook}/secret/rotate"]


# -- auth ---------------------------------------------------------------------------------------


def test_bearer_scheme_is_applied_everywhere_but_the_public_paths():
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["accessToken"] == {**schemes["accessToken"], "type": "apiKey",
                                      "in": "query", "name": "access_token"}
    assert DOC["security"] == [{"bearerAuth": []}]
    for path in ("/healthz", "/openapi.json"):
        assert DOC["paths"][path]["get"]["security"] == []
    for path, verb, op in _operations():
        if path in ("/healthz", "/openapi.json"):
            continue
        assert {"bearerAuth": []} in op.get("security", DOC["security"]), (verb, path)


def test_inbound_paths_take_access_token_and_signed_webhooks_need_none():
    for path in ("/api/v2/event", "/api/v2/callback"):
        assert DOC["paths"][path]["post"]["security"] == [{"bearerAuth": []},
                                                          {"accessToken": []}]
    assert DOC["paths"]["/api/v2/webhook"]["post"]["security"] == [
        {"bearerAuth": []}, {"accessToken": []}, {}]
    names = {p.get("name") for p in DOC["paths"]["/api/v2/event"]["post"]["parameters"]}
    assert "access_token" not in names  # it is the security scheme, not a parameter


def test_org_header_on_the_elan_routes_and_not_on_the_tenant_paths():
    org = {"$ref": "#/components/parameters/OrgId"}
    assert DOC["components"]["parameters"]["OrgId"]["name"] == "X-Org-Id"
    for path in ("/webhooks", "/webhooks/{id}", "/webhooks/logs/all", "/api/v2/workflows"):
        for op in DOC["paths"][path].values():
            assert org in op["parameters"], path
    for path, _, op in _operations():
        if path.startswith("/event/{tenant}"):
            assert org not in op.get("parameters", []), path


# -- what the transcoder accepts and answers --------------------------------------------------


def test_fields_are_lower_camel_case_and_proto3_json_typed():
    """Every schema made from a message: the JSON names, int64 kinds as strings, Duration as
    a `"30s"` string, Timestamp as an RFC 3339 date-time."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes())
    messages = {f".{file.package}.{m.name}": m for file in fds.file for m in file.message_type}
    checked = 0
    for name, schema in DOC["components"]["schemas"].items():
        message = messages.get(f".flowhooks.v1.{name}")
        if message is None:
            continue
        for field in message.field:
            if field.json_name not in schema.get("properties", {}):
                continue  # bound by the path (a `...Body` schema) is not in the body
            prop = _prop(schema, field.json_name)
            if field.label == F.LABEL_REPEATED and "items" in prop:
                prop = prop["items"]
            if field.type in INT64_KINDS:
                assert prop["type"] == "string", (name, field.name)
            elif field.type_name == ".google.protobuf.Duration":
                assert prop["type"] == "string" and prop["pattern"], (name, field.name)
                assert OAS30Validator(prop).is_valid("30s")
                assert OAS30Validator(prop).is_valid("0.200s")
                assert not OAS30Validator(prop).is_valid("30")
            elif field.type_name == ".google.protobuf.Timestamp":
                assert prop == {**prop, "type": "string", "format": "date-time"}
            checked += 1
        assert all("_" not in key for key in schema.get("properties", {})), name
    assert checked > 100


def test_webhook_schema_matches_the_spec_shape():
    webhook = _schema("Webhook")
    assert {"locator", "name", "enabled", "endpoint", "failureHandling", "suspended",
            "suspendedAt", "eventTypes", "createdAt", "updatedAt"} <= set(webhook["properties"])
    assert _prop(webhook, "timeout")["pattern"]
    assert _prop(_schema("Endpoint"), "headers") == {
        "type": "object", "additionalProperties": {"type": "array", "items": {}},
        "description": _prop(_schema("Endpoint"), "headers")["description"]}
    create = DOC["paths"]["/event/{tenant}/webhooks"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert "tenant" not in _deref(body["$ref"])["properties"]  # the path binds it


def test_http_body_endpoints_are_described_by_media_type():
    webhook = DOC["paths"]["/api/v2/webhook"]["post"]
    assert set(webhook["requestBody"]["content"]) == {
        "application/json", "application/x-www-form-urlencoded"}
    answer = webhook["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/WorkflowRun"} in answer["anyOf"]
    headers = {p.get("name") for p in webhook["parameters"]}
    assert {"X-GitHub-Event", "X-Hub-Signature-256", "X-Slack-Signature",
            "Idempotency-Key"} <= headers
    event = DOC["paths"]["/api/v2/event"]["post"]
    content = event["requestBody"]["content"]
    assert {"application/cloudevents+json", "application/cloudevents-batch+json"} <= set(content)
    structured = _deref(content["application/cloudevents+json"]["schema"]["$ref"])
    assert set(structured["required"]) == {"specversion", "id", "source", "type"}
    assert content["application/cloudevents-batch+json"]["schema"]["type"] == "array"
    assert {"ce-id", "ce-source", "ce-type", "ce-specversion"} <= {
        p.get("name") for p in event["parameters"]}
    callback = DOC["paths"]["/api/v2/callback"]["post"]
    assert set(callback["requestBody"]["content"]) == {"application/json"}
    assert {"ref", "workflowrun", "topic", "status"} <= {
        p["name"] for p in callback["parameters"] if p.get("in") == "query"}


def test_response_body_rules_answer_bare_arrays():
    for path, item in (("/webhooks", "Subscription"), ("/event/{tenant}/webhooks/list",
                                                       "Webhook"),
                       ("/webhooks/logs/all", "DeliveryLogEntry")):
        schema = DOC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert schema["schema"] == {"type": "array",
                                    "items": {"$ref": f"#/components/schemas/{item}"}}
    tokens = DOC["paths"]["/api/v2/tokens"]["get"]["responses"]["200"]
    assert tokens["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ListTokensResponse"}


def test_errors_have_the_envoy_shape_on_every_operation():
    error = _schema("Error")
    assert set(error["required"]) == {"code", "message", "details"}
    for path, verb, op in _operations():
        if path in ("/healthz", "/openapi.json"):
            continue
        for status in ("400", "401", "403", "404", "503", "default"):
            ref = op["responses"][status]["$ref"]
            schema = _deref(ref)["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (verb, path, status)
        assert ("413" in op["responses"]) == ("requestBody" in op), (verb, path)


# -- the generator, on protos made for it -----------------------------------------------------

PROBE = """
syntax = "proto3";
package probe.v1;
import "google/api/annotations.proto";
import "google/api/httpbody.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Things.
service ThingService {
  // GetThing reads one.
  rpc GetThing(GetThingRequest) returns (Thing) {
    option (google.api.http) = {get: "/v1/things/{thing_id}"};
  }
  // ListThings lists them.
  rpc ListThings(ListThingsRequest) returns (ListThingsResponse) {
    option (google.api.http) = {get: "/v1/things" response_body: "things"};
  }
  // PutThing replaces one.
  rpc PutThing(PutThingRequest) returns (google.protobuf.Empty) {
    option (google.api.http) = {put: "/v1/things/{thing_id}" body: "*"};
  }
  // Upload takes bytes.
  rpc Upload(UploadRequest) returns (google.api.HttpBody) {
    option (google.api.http) = {post: "/v1/uploads" body: "body"};
  }
}

// Thing has one field of each kind.
message Thing {
  // A 64-bit count.
  int64 big = 1;
  uint64 ubig = 2;
  sint64 sbig = 3;
  fixed64 fbig = 4;
  repeated int64 bigs = 5;
  int32 small = 6;
  google.protobuf.Duration wait_for = 7;
  google.protobuf.Timestamp created_at = 8;
  google.protobuf.Struct attrs = 9;
  google.protobuf.Value anything = 10;
  google.protobuf.ListValue list = 11;
  google.protobuf.Int64Value maybe_big = 12;
  google.protobuf.BoolValue maybe = 13;
  Color color = 14;
  map<string, int64> counts = 15;
  optional string note = 16;
  bytes blob = 17;
  Part part = 18;
}

// Color is an enum.
enum Color {
  COLOR_UNSPECIFIED = 0;
  RED = 1;
}

// Part nests.
message Part {
  string name = 1;
}

message GetThingRequest {
  string thing_id = 1;
  // Filter.
  int64 min_big = 2;
  repeated string tags = 3;
  google.protobuf.Int32Value limit = 4;
}

message ListThingsRequest {
  int32 page_size = 1;
}

message ListThingsResponse {
  repeated Thing things = 1;
}

message PutThingRequest {
  string thing_id = 1;
  Thing thing = 2;
}

message UploadRequest {
  string name = 1;
  google.api.HttpBody body = 2;
}
"""


@pytest.fixture(scope="module")
def probe_doc(tmp_path_factory):
    plugin = _plugin_or_skip()
    tmp = tmp_path_factory.mktemp("probe")
    (tmp / "probe").mkdir()
    (tmp / "probe" / "probe.proto").write_text(PROBE)
    out = tmp / "probe.pb"
    googleapis = Path(google.api.__path__[0]).parent.parent
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    assert protoc.main(["protoc", f"-I{tmp}", f"-I{googleapis}", f"-I{well_known}",
                        "--include_imports", "--include_source_info",
                        f"--descriptor_set_out={out}", "probe/probe.proto"]) == 0
    doc = openapi.build(out.read_bytes(), policies={}, plugin=plugin)
    validate(doc)
    return doc


def test_generator_writes_proto3_json_forms(probe_doc):
    thing = _schema("probe.v1.Thing", probe_doc)
    props = thing["properties"]
    for name in ("big", "ubig", "sbig", "fbig"):
        assert _prop(thing, name)["type"] == "string"
    assert props["big"]["description"] == "A 64-bit count."
    assert props["bigs"]["items"]["type"] == "string"
    assert props["small"]["type"] == "integer"
    assert props["waitFor"]["type"] == "string" and props["waitFor"]["pattern"]
    assert props["createdAt"]["format"] == "date-time"
    assert props["attrs"]["type"] == "object"
    assert {k: v for k, v in props["anything"].items() if k != "description"} == {}
    assert props["list"]["type"] == "array"
    assert props["maybeBig"]["type"] == "string" and props["maybeBig"]["nullable"] is True
    assert props["maybe"]["type"] == "boolean" and props["maybe"]["nullable"] is True
    assert _prop(thing, "color") == {"$ref": "#/components/schemas/probe.v1.Color"}
    assert _schema("probe.v1.Color", probe_doc)["enum"] == ["COLOR_UNSPECIFIED", "RED"]
    assert props["counts"]["additionalProperties"]["type"] == "string"
    assert props["blob"]["format"] == "byte"
    assert _prop(thing, "part") == {"$ref": "#/components/schemas/probe.v1.Part"}
    assert "wait_for" not in props and "createdAt" in props


def test_generator_maps_parameters_bodies_and_answers(probe_doc):
    get = probe_doc["paths"]["/v1/things/{thing_id}"]["get"]
    params = {p["name"]: p for p in get["parameters"]}
    assert params["thing_id"]["in"] == "path" and params["thing_id"]["required"] is True
    assert params["minBig"]["in"] == "query" and params["minBig"]["schema"]["type"] == "string"
    assert params["minBig"]["description"] == "Filter."
    assert params["tags"]["schema"]["type"] == "array" and params["tags"]["explode"] is True
    assert params["limit"]["schema"]["type"] == "integer"
    assert get["summary"] == "GetThing reads one."
    listed = probe_doc["paths"]["/v1/things"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["type"] == "array"
    put = probe_doc["paths"]["/v1/things/{thing_id}"]["put"]
    body = _deref(put["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                  probe_doc)
    assert set(body["properties"]) == {"thing"}
    assert put["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Empty"}
    upload = probe_doc["paths"]["/v1/uploads"]["post"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    assert "*/*" in upload["responses"]["200"]["content"]
    assert [p["name"] for p in upload["parameters"]] == ["name"]
    assert probe_doc["tags"][0] == {"name": "ThingService", "description": "Things."}


def test_generate_fails_clearly_without_the_plugin(monkeypatch):
    monkeypatch.delenv(openapi.PLUGIN_ENV, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(openapi.OpenApiError, match="golang-grpc-gateway"):
        openapi.find_plugin()


# -- served -----------------------------------------------------------------------------------


async def test_served_at_openapi_json_without_a_token(rest):
    async with rest.session.get(rest.base + "/openapi.json") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert await resp.read() == OPENAPI.read_bytes()


async def test_live_errors_have_the_documented_shape(rest, tenant):
    # `#/components/...` references resolve against this schema's own root.
    error = OAS30Validator({**_schema("Error"), "components": DOC["components"]})
    cases = [
        ("GET", "/webhooks", None),  # no token: the server's 401
        ("GET", "/no/such/route", None),  # Envoy's own 404 (a local reply)
        ("POST", f"/event/{tenant.id}/webhooks", tenant.token),  # BadRequest details
        ("POST", f"/event/{tenant.id}/webhooks", tenant.token, b"{bad"),  # Envoy's JSON parse
    ]
    seen = set()
    for method, path, token, *data in cases:
        status, body = await rest.call(method, path, token=token, data=(data or [b"{}"])[0])
        assert status >= 400, (method, path)
        error.validate(body)
        seen.add((status, bool(body["details"])))
    assert {(401, False), (404, False), (400, True)} <= seen
