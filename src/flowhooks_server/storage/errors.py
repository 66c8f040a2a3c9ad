"""Database errors → our exceptions, in one place."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from flowhooks_server.domain.errors import FlowhooksError, Unavailable


def is_outage(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached, rather than that it refused a
    statement or a value (which trying again will not change)."""
    return isinstance(translate_storage_error(error), Unavailable)


def translate_storage_error(error: BaseException) -> FlowhooksError | None:
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        return Unavailable("the database is unavailable; retry later")
    if isinstance(error, (ConnectionError, TimeoutError)) and not isinstance(error, FlowhooksError):
        return Unavailable("the database is unavailable; retry later")
    return None
