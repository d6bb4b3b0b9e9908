"""What every ``/api/v1/`` view shares: keyset pagination, the one error shape and the audit
of writes.

Authentication, scopes and the rate limit are in ``configuration.api_auth`` (DRF's settings
import them while ``rest_framework.views`` loads, so they cannot import it). Each app exposes
its endpoints from its own ``api`` module on top of ``ApiView``; ``omnico/api_urls.py`` wires
them under ``/api/v1/``. Errors are in English (an integrator's log is read by developers);
every error, whatever its status, is::

    {"error": {"code": "not_found", "message": "…", "fields": {"name": ["…"]}}}

``fields`` is present (possibly empty) on every error; it names the fields a 400 refused.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from configuration.models import ApiAuditLog, ApiToken


class KeysetPagination(CursorPagination):
    """Keyset pages, newest first: ``?cursor=`` from ``next``; rows inserted meanwhile never
    shift a page (the cursor is a position, not an offset). ``?limit=`` up to 200."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class RuleBroken(exceptions.APIException):
    """A business rule refused the change (a ticket with an open activity cannot be resolved)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "rule"
    default_detail = "The change is not allowed."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The change conflicts with the current state."


_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    429: "throttled",
}


def _fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {
            key: [str(v) for v in value] if isinstance(value, list) else value
            for key, value in detail.items()
        }
    return {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, ``WWW-Authenticate``, ``Retry-After``), reshaped into the one error
    shape of the module docstring."""
    if isinstance(exc, DjangoValidationError):  # a model's own validation (``full_clean``)
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else None
    code = _CODES.get(response.status_code, "error")
    if isinstance(exc, (RuleBroken, Conflict)):
        code = exc.default_code
    if isinstance(detail, (dict, list)):
        message = "The request is not valid; see fields."
        fields = _fields(detail) if isinstance(detail, dict) else {"non_field_errors": detail}
        fields = {
            key: value
            for key, value in fields.items()
            if not (isinstance(value, list) and not value)
        }
    else:
        message = str(detail) if detail is not None else str(response.data.get("detail", ""))
        fields = {}
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


class ApiView(APIView):
    """Base of every ``/api/v1/`` view: every write (any method but GET/HEAD/OPTIONS) made with a
    token leaves an ``ApiAuditLog`` row with its answer's status, also when refused. A view
    names what it wrote with ``self.audit(object_type, object_id)``."""

    scopes: ClassVar[dict[str, str]] = {}
    _audit_object: tuple[str, str] = ("", "")

    def audit(self, object_type: str, object_id: object) -> None:
        self._audit_object = (object_type, str(object_id))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        token = getattr(request, "_auth", None)
        if request.method not in SAFE_METHODS and isinstance(token, ApiToken):
            object_type, object_id = self._audit_object
            ApiAuditLog.objects.create(
                token=token,
                method=request.method or "",
                path=request.path[:500],
                object_type=object_type,
                object_id=object_id,
                status_code=response.status_code,
            )
        return response


def acting_agent(request: Request) -> Any:
    """The agent a token acts as; 403 when it names none (a reply or note needs an author)."""
    token = request.auth
    if not isinstance(token, ApiToken) or token.acts_as is None:
        raise exceptions.PermissionDenied(
            "This token acts as no agent; an admin must set one for replies and notes."
        )
    return token.acts_as


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}
_ERROR_ANSWERS = {
    "400": "Invalid input (`fields` names each refused field) or a business rule (`rule`)",
    "401": "No token, or an unknown, malformed or revoked one",
    "403": "The token lacks the scope, or acts as no agent",
    "404": "No such object",
    "409": "Conflicts with the current state",
    "429": "Over the token's rate limit; see `Retry-After`",
}


def error_responses_hook(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing: the one error shape, named ``Error``, on every
    operation of the schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in _ERROR_ANSWERS.items():
                responses.setdefault(code, {"description": description, "content": ref})
    return result
