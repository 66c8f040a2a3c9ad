"""Regenerate generated/ from proto/: Python stubs with .pyi typing and Envoy's descriptor set.

Output depends only on proto/ and the pinned grpcio-tools, so CI can check it byte for byte.
"""

import pathlib
import shutil
import sys

import google.api
import grpc_tools
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
OUT = ROOT / "generated"
DESCRIPTOR = OUT / "flowhooks_descriptor.pb"
GOOGLEAPIS = pathlib.Path(google.api.__path__[0]).parent.parent
WELL_KNOWN = pathlib.Path(grpc_tools.__file__).parent / "_proto"


def main() -> int:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
