"""Where `make run` keeps its development admin token (SPEC §3): `./var/dev-admin-token`,
beside the default database, readable by its owner only, so `export FLOWHOOKS_TOKEN=...`
keeps working across restarts. Only used when FLOWHOOKS_BOOTSTRAP_TOKEN is not set."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DEV_TOKEN_FILE = Path("var") / "dev-admin-token"
MAX_TOKEN = 512


def read(path: Path = DEV_TOKEN_FILE) -> str | None:
    """The kept token, or None when there is none (or the file holds nothing like one)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text and len(text) <= MAX_TOKEN and text.isprintable() else None


def write(token: str, path: Path = DEV_TOKEN_FILE) -> None:
    """Keep `token`, mode 0600 from the first byte, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    os.replace(partial, path)
