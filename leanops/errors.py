"""The one error tree of leanops.

Every error a person can cause or fix is one of these. Each carries a message that says
what happened and what to do, an exit code for the CLI and a status for HTTP; the core
raises them, and each boundary translates them exactly once.

    LeanopsError
     ├── ConfigError            bad leanops.yaml / LEANOPS_* value         exit 2  HTTP 400
     ├── ValidationError        input breaks a contract or schema          exit 3  HTTP 422
     │    └── IncompleteMetadata   a run lacks required metadata fields
     ├── NotFound               unknown id, name, version or zone          exit 4  HTTP 404
     ├── Conflict               the thing exists already / state forbids it exit 5  HTTP 409
     │    └── WriteRace         a concurrent writer won; retrying sees its result
     ├── AuthenticationError    no, malformed, expired or revoked token    exit 6  HTTP 401
     ├── PolicyDenied           the policy says no                         exit 7  HTTP 403
     ├── IntegrityError         stored bytes or records fail verification  exit 8  HTTP 500
     ├── BudgetExceeded         a cost ceiling or quota refuses the action exit 9  HTTP 402
     └── StoreUnavailable       the metadata or artifact store is out of reach exit 10 HTTP 503
"""

from __future__ import annotations

from typing import Any


class LeanopsError(Exception):
    """Base of every error leanops raises on purpose."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON body an HTTP boundary returns."""
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(LeanopsError):
    """leanops.yaml or a LEANOPS_* variable is invalid; names the file, the key and the reason."""

    exit_code = 2
    http_status = 400


class ValidationError(LeanopsError):
    """Input breaks a declared contract: a data contract, a spec, a metric value."""

    exit_code = 3
    http_status = 422


class IncompleteMetadata(ValidationError):
    """A run lacks fields the required metadata schema demands."""


class NotFound(LeanopsError):
    exit_code = 4
    http_status = 404


class Conflict(LeanopsError):
    exit_code = 5
    http_status = 409


class WriteRace(Conflict):
    """A concurrent writer took the key or number first; the whole action may safely run again."""


class AuthenticationError(LeanopsError):
    exit_code = 6
    http_status = 401


class PolicyDenied(LeanopsError):
    exit_code = 7
    http_status = 403


class IntegrityError(LeanopsError):
    exit_code = 8
    http_status = 500


class BudgetExceeded(LeanopsError):
    exit_code = 9
    http_status = 402


class StoreUnavailable(LeanopsError):
    exit_code = 10
    http_status = 503


__all__ = [
    "AuthenticationError",
    "BudgetExceeded",
    "ConfigError",
    "Conflict",
    "IncompleteMetadata",
    "IntegrityError",
    "LeanopsError",
    "NotFound",
    "PolicyDenied",
    "StoreUnavailable",
    "ValidationError",
]
