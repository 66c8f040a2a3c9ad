"""Our exceptions → gRPC statuses with rich details (google.rpc.BadRequest naming the field)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from flowhooks_server.domain import errors

_CODES: dict[type[errors.FlowhooksError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


def to_status(exc: errors.FlowhooksError) -> grpc.Status:
    code = next(c for kind, c in _CODES.items() if isinstance(exc, kind))
    status = status_pb2.Status(code=code, message=exc.message)
    if isinstance(exc, errors.InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in exc.violations
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


def internal_status() -> grpc.Status:
    return rpc_status.to_status(
        status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see the server log")
    )


def unimplemented_status(method: str) -> grpc.Status:
    return rpc_status.to_status(
        status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message=f"{method} is not implemented yet")
    )
