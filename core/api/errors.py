from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import ApplicationError


def exception_handler(exc, context):
    """Every API failure has the same body: {"message", "code", "extra"}."""
    if isinstance(exc, ApplicationError):
        return Response(
            {"message": exc.message, "code": exc.code, "extra": exc.extra},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django's own bound on a body, met while DRF reads one: bad input, not a bug.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = exceptions.ParseError(
            f"The body is larger than {limit} bytes.", code="body_too_large"
        )
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(str(exc), code="body_too_many_fields")
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django report it

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        body = {
            "message": "Some input is not valid.",
            "code": "invalid",
            "extra": {"fields": exc.detail},
        }
    else:
        detail = exc.detail
        body = {
            "message": str(detail),
            "code": getattr(detail, "code", exc.default_code),
            "extra": {},
        }
    return Response(body, status=exc.status_code, headers=headers)
