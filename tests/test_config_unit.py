"""Settings from the environment (SPEC §3): FLOWHOOKS_PROCESSES, its defaults and its refusals."""

from __future__ import annotations

import os

import pytest

from flowhooks_server.config import MAX_PROCESSES, ConfigError, Settings

pytestmark = pytest.mark.unit
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/x"


def test_one_process_on_sqlite_and_one_per_core_on_postgres_by_default():
    assert Settings.from_env({}).processes == 1
    assert Settings.from_env({"FLOWHOOKS_DATABASE_URL": PG}).processes == \
        max(1, os.cpu_count() or 1)


def test_processes_as_asked():
    assert Settings.from_env({"FLOWHOOKS_PROCESSES": "3"}).processes == 3
    assert Settings.from_env({"FLOWHOOKS_DATABASE_URL": PG,
                              "FLOWHOOKS_PROCESSES": "1"}).processes == 1


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", str(MAX_PROCESSES + 1), " 2"])
def test_a_process_count_that_cannot_be_used_is_refused_by_name(raw):
    with pytest.raises(ConfigError, match="FLOWHOOKS_PROCESSES") as refused:
        Settings.from_env({"FLOWHOOKS_PROCESSES": raw})
    assert repr(raw) in str(refused.value)
