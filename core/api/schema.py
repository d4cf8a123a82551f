"""The OpenAPI schema tells the truth about failures too: every operation lists the error
statuses it can answer, each with the one error body (core.api.errors)."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension

from core.api.pagination import Pagination
from core.api.serializers import ErrorSerializer, NoBodySerializer
from core.idempotency import IdempotentPostMixin

PAGINATION_PARAMETERS = {Pagination.page_query_param, Pagination.page_size_query_param}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error_body = {
            "application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}
        }
        for code, description in self.error_statuses(operation).items():
            operation["responses"].setdefault(
                str(code), {"description": description, "content": error_body}
            )
        return operation

    def error_statuses(self, operation: dict) -> dict[int, str]:
        parameters = operation.get("parameters", [])
        in_path = [p for p in parameters if p["in"] == "path"]
        filters = [
            p for p in parameters if p["in"] == "query" and p["name"] not in PAGINATION_PARAMETERS
        ]
        paginated = any(
            p["in"] == "query" and p["name"] in PAGINATION_PARAMETERS for p in parameters
        )
        security = operation.get("security", [])
        errors = {}
        if "requestBody" in operation or filters:
            errors[400] = "The input is not valid, or it breaks a rule: `code` says which."
        if security and {} not in security:
            errors[401] = "No valid credentials (a token or a session)."
            errors[403] = "The caller's role may not do this, or a session lacks its CSRF token."
        if in_path or paginated:
            errors[404] = (
                "No such agency or row, or not one the caller may see; or a page past the end."
            )
        if self.method == "POST" and isinstance(self.view, IdempotentPostMixin):
            errors[422] = "The Idempotency-Key was first used with another request."
        return errors


class NoBodyExtension(OpenApiSerializerExtension):
    """An action that takes nothing shows that body: drf-spectacular would drop an object
    without properties from the schema, and with it the operation's request body."""

    target_class = NoBodySerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": "Nothing: an empty object, or no body at all. Other fields are ignored.",
            "properties": {},
            "additionalProperties": {},
        }
