"""Regenerate generated/ from proto/: Python stubs with .pyi typing, Envoy's descriptor set, and
the OpenAPI document made from that descriptor set (scripts/openapi.py, SPEC §12).

Output depends only on proto/, the pinned grpcio-tools, the RPC policy table
(flowhooks_server.api.policies, for the document's auth and X-Org-Id) and Debian's
protoc-gen-swagger (package golang-grpc-gateway), so CI can check it byte for byte.
"""

import pathlib
import shutil
import sys

import google.api
import grpc_tools
import openapi  # scripts/openapi.py, beside this file
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
OUT = ROOT / "generated"
DESCRIPTOR = OUT / "flowhooks_descriptor.pb"
OPENAPI = OUT / "openapi.json"
GOOGLEAPIS = pathlib.Path(google.api.__path__[0]).parent.parent
WELL_KNOWN = pathlib.Path(grpc_tools.__file__).parent / "_proto"


def main() -> int:
    # Before anything is written: a missing plugin must not leave generated/ half made.
    try:
        plugin = openapi.find_plugin()
    except openapi.OpenApiError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    sources = sorted(p.relative_to(PROTO).as_posix() for p in PROTO.rglob("*.proto"))
    package_dir = OUT / "flowhooks"
    if package_dir.exists():
        shutil.rmtree(package_dir)
    OUT.mkdir(exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{GOOGLEAPIS}",
        f"-I{WELL_KNOWN}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={DESCRIPTOR}",
        *sources,
    ]
    if protoc.main(args) != 0:
        return 1
    for pkg in {p.parent for p in package_dir.rglob("*.py")} | {package_dir}:
        (pkg / "__init__.py").write_text("")
    try:
        document = openapi.build(DESCRIPTOR.read_bytes(), plugin=plugin)
    except openapi.OpenApiError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    OPENAPI.write_text(openapi.render(document), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
