"""Opaque, time-sortable ids: a type prefix and a ULID, e.g. `wh_01JD3...`."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"
