"""Structured logs: one JSON object per line on stderr. Callers pass fields via `extra`;
no code path hands a token, secret or Authorization header to a logger."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

PARAMETER_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "psycopg")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, static: dict[str, object] | None = None) -> None:
        super().__init__()
        self._static = static or {}  # fields of every line (which server process wrote it)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **self._static,
        }
        entry.update(
            (k, v) for k, v in vars(record).items() if k not in _STANDARD and v is not None
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    # A record never carries its caller's file and line, thread or process (none of them is
    # written, see JsonFormatter): the logging HOWTO's "Optimization" switches, since finding
    # the caller's frame is most of what a record costs on the request path.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    # Set by the supervisor for each of several server processes (FLOWHOOKS_PROCESSES > 1).
    index = os.environ.get("FLOWHOOKS_PROCESS_INDEX", "")
    handler.setFormatter(JsonFormatter({"server": int(index)} if index.isdigit() else None))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    quiet_parameter_loggers()


def quiet_parameter_loggers() -> None:
    """The drivers' debug and info lines echo statements and their parameters (secrets,
    token hashes): those loggers say only warnings, whatever level the process logs at."""
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
