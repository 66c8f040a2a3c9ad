"""The exceptions of flowhooks, one per outcome a caller can see.

    FlowhooksError
     ├── InvalidArgument      a field is wrong; carries (field, description) violations
     ├── Unauthenticated      no token, or an unknown, expired or revoked one
     ├── PermissionDenied     a permission is missing, or the tenant is not the caller's
     ├── NotFound             no such resource in the caller's tenant
     ├── AlreadyExists        the resource is there already
     ├── FailedPrecondition   the resource is in a state that forbids the call
     ├── ResourceExhausted    a limit was hit
     └── Unavailable          a dependency (the database) does not answer

The API layer turns each into one gRPC status, in one place.
"""

from __future__ import annotations


class FlowhooksError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(FlowhooksError):
    def __init__(self, violations: list[tuple[str, str]] | str, description: str | None = None):
        if isinstance(violations, str):
            violations = [(violations, description or "is invalid")]
        self.violations = violations
        super().__init__("; ".join(f"{field}: {desc}" for field, desc in violations))


class Unauthenticated(FlowhooksError):
    pass


class PermissionDenied(FlowhooksError):
    pass


class NotFound(FlowhooksError):
    pass


def found(thing, kind: str, ident: str):
    """`thing`, or NotFound naming what was looked for."""
    if thing is None:
        raise NotFound(f"{kind} {ident!r} not found")
    return thing


class AlreadyExists(FlowhooksError):
    pass


class FailedPrecondition(FlowhooksError):
    pass


class ResourceExhausted(FlowhooksError):
    pass


class Unavailable(FlowhooksError):
    pass


class Violations:
    """Collects every violation of a request so one error names all the fields at fault."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        self.items.append((field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
