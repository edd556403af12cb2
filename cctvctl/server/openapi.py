"""The OpenAPI document, made to say what the server really answers.

FastAPI documents every error response as ``application/json`` and invents its own
``HTTPValidationError`` shape for 422; every error of this server is an RFC 9457
``application/problem+json`` body (problems.py), and a 422 lists the offending
parameters under ``errors``. The routes declare which error statuses they answer; this
module gives those declarations the real media type and shape in one place, so a route
cannot drift from it, and declares the 401 of every route behind a token and the 413
of every route that reads a body.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI

from cctvctl.server.problems import MEDIA_TYPE

__all__ = ["install", "problem_responses"]

PROBLEM_REF: Final = "#/components/schemas/Problem"
INVALID_REF: Final = "#/components/schemas/InvalidParameterProblem"
# What problems.py writes for a 422 (FastAPI's own validation errors and ours alike).
INVALID_PARAMETER_PROBLEM: Final[dict[str, Any]] = {
    "title": "InvalidParameterProblem",
    "description": "A 422 problem: which parameters were wrong, and what is accepted.",
    "allOf": [
        {"$ref": PROBLEM_REF},
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["in", "parameter", "detail"],
                        "properties": {
                            "in": {
                                "type": "string",
                                "description": "query, path, header or body",
                            },
                            "parameter": {
                                "type": "string",
                                "description": "its name ('' for the body as a whole)",
                            },
                            "detail": {"type": "string"},
                        },
                    },
                }
            },
        },
    ],
}
UNAUTHORIZED: Final = "No token, or a token this server does not know"
TOO_LARGE: Final = "The body is larger than the server reads"
_FASTAPI_ONLY: Final = ("HTTPValidationError", "ValidationError")


def _is_error(status: str) -> bool:
    return status == "default" or (status.isdigit() and int(status) >= 400)


def _without_null(parameter: dict[str, Any]) -> None:
    """``str | None = None`` is documented as string-or-null; a parameter is never null.

    On the wire it is absent or a string, and the string "null" is just a string: the
    rules beside the ``anyOf`` (a pattern) must apply to it, so the string branch stands
    alone with them.
    """
    schema = parameter.get("schema", {})
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) == 1 and len(kept) < len(branches):
        del schema["anyOf"]
        parameter["schema"] = {**kept[0], **schema}


def problem_responses(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``doc`` in place (errors as problem+json, parameters never null)."""
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["InvalidParameterProblem"] = INVALID_PARAMETER_PROBLEM
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _without_null(parameter)
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if operation.get("security") and "401" not in responses:
                responses["401"] = {"description": UNAUTHORIZED}
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = {"description": TOO_LARGE}
            for status, response in responses.items():
                if not _is_error(status):
                    continue
                ref = INVALID_REF if status == "422" else PROBLEM_REF
                response["content"] = {MEDIA_TYPE: {"schema": {"$ref": ref}}}
                if status == "401":
                    response.setdefault("headers", {})["WWW-Authenticate"] = {
                        "description": 'Bearer realm="cctvctl", with the error if any',
                        "schema": {"type": "string"},
                    }
    for name in _FASTAPI_ONLY:
        schemas.pop(name, None)
    return doc


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the corrected document (built once, then cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_responses(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
