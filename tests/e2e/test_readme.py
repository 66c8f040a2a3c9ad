"""The README's walk-through, run as written against a live `make run`-like stack (SPEC §10).

The stack is what `FLOWHOOKS_ALLOW_INSECURE_TARGETS=1 make run` starts: the default SQLite
database under ./var, the dev admin token in ./var/dev-admin-token, no bootstrap token. The
blocks run in that directory (with `.venv` beside them, as in a clone), on free ports given
through the README's own `FH` and `HOOK_PORT` defaults."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import readme_script
from harness import ROOT, Stack, free_port

README = ROOT / "README.md"
TOOLS = ("bash", "curl", "jq", "python3", "openssl")


@pytest.fixture
def walkthrough_stack(tmp_path):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"the README needs {missing} (.ci/run installs them)"
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    stack = Stack("sqlite+aiosqlite:///./var/flowhooks.db", tmp_path, "",
                  FLOWHOOKS_ALLOW_INSECURE_TARGETS="1")
    stack.start()
    yield stack
    stack.stop()


def test_every_block_is_seen_by_the_runner():
    """A block the runner does not pick up (```sh, a typo in a directive) would drift."""
    text = README.read_text()
    found = readme_script.blocks(README)
    assert len(found) == text.count("```bash\n")
    assert len(found) >= 15
    assert sum(block.skip for block in found) == 2  # `make run` itself, and grpcurl
    assert all("readme:" not in block.code for block in found)


def test_readme_walkthrough_runs_as_written(walkthrough_stack, tmp_path):
    stack = walkthrough_stack
    env = dict(os.environ, FH=stack.rest, HOOK_PORT=str(free_port()))
    for name in list(env):
        if name.startswith("FLOWHOOKS_"):
            del env[name]
    done = subprocess.run(["bash", "-c", readme_script.script(README)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=150)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"the walk-through failed:\n{output}\n--- server:\n{stack.logs()}"
    outputs = readme_script.outputs(done.stdout)
    for block in readme_script.blocks(README):
        if block.skip:
            continue
        assert block.number in outputs, f"block {block.number} did not finish:\n{output}"
        for text in block.expect:
            assert text in outputs[block.number], (
                f"block {block.number} should print {text!r}:\n{block.code}\n"
                f"--- it printed:\n{outputs[block.number]}")
    assert "NOTHING" not in (tmp_path / "receiver.log").read_text()
    token = (tmp_path / "var" / "dev-admin-token").read_text().strip()
    assert token not in stack.logs().replace(f"export FLOWHOOKS_TOKEN={token}", "")
