"""Stripe's error shape, raised anywhere in the server and rendered by the HTTP layer."""

from __future__ import annotations


class StripeError(Exception):
    """An error answered the way Stripe answers it: an HTTP status and {"error": {...}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def bad_param(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing(kind_label: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404, f"No such {kind_label}: '{object_id}'", code="resource_missing", param=param
    )
