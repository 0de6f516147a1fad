"""Errors the gateway answers with, in OpenAI's error format.

Every refusal is a :class:`GatewayError` carrying the HTTP status, a message written for the
caller (naming the field, model or policy at fault) and OpenAI's ``type`` / ``param`` / ``code``::

    {"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": null}}

>>> GatewayError.bad_field("messages", "expected a non-empty list").body()["error"]["param"]
'messages'
>>> GatewayError.not_found("tradeoff/nope", "no policy is deployed under that name").status
404
"""
from __future__ import annotations

from typing import Any

from core.live.keys import redact


class GatewayError(Exception):
    """A refusal: ``status``, ``message``, OpenAI's ``type``, ``param`` and ``code``."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = int(status)
        self.message = redact(message)
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    @classmethod
    def bad_field(cls, field: str, problem: str) -> GatewayError:
        """400: the request body's ``field`` is wrong (the message names it)."""
        return cls(400, f"Invalid request: '{field}' {problem}", param=field, code="invalid_value")

    @classmethod
    def not_found(cls, model: str, why: str) -> GatewayError:
        """404: the ``model`` field names no deployed policy or known provider model."""
        return cls(404, f"The model '{model}' does not exist: {why}", param="model",
                   code="model_not_found")

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"
