#!/usr/bin/env bash
# buf lint over proto/. The googleapis protos we import come from the pinned
# googleapis-common-protos wheel, staged under build/ so buf resolves them offline.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
deps=build/proto-deps
site=$($py -c 'import google.api, pathlib; print(pathlib.Path(google.api.__path__[0]).parent.parent)')
rm -rf "$deps" && mkdir -p "$deps/google/api"
cp "$site"/google/api/{annotations,http,httpbody}.proto "$deps/google/api/"
exec .venv/bin/buf lint
