"""Typed errors with the stable ``code`` strings the Node package and the Rust engine use.

Branch on :attr:`CoreSDKError.code`, never on the message. Messages never
contain a token, claims or policy input.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["ERROR_CODES", "CoreSDKError", "ErrorCode"]

ErrorCode = Literal[
    "ERR_CONFIG",
    "ERR_POLICY_LOAD",
    "ERR_POLICY_COMPILE",
    "ERR_QUERY_INVALID",
    "ERR_UNKNOWN_RULE",
    "ERR_INPUT_INVALID",
    "ERR_INPUT_TOO_LARGE",
    "ERR_INPUT_TOO_DEEP",
    "ERR_EVAL_TIMEOUT",
    "ERR_EVAL",
    "ERR_ENGINE_CLOSED",
    "ERR_BUNDLE_NOT_ACTIVE",
    "ERR_BUNDLE_REFUSED",
    "ERR_BUNDLE_FETCH",
    "ERR_TOKEN_MISSING",
    "ERR_TOKEN_MALFORMED",
    "ERR_TOKEN_ALGORITHM",
    "ERR_TOKEN_UNKNOWN_KEY",
    "ERR_TOKEN_SIGNATURE",
    "ERR_TOKEN_EXPIRED",
    "ERR_TOKEN_NOT_YET_VALID",
    "ERR_TOKEN_CLAIM",
    "ERR_JWKS_UNAVAILABLE",
    "ERR_JWKS_INVALID",
    "ERR_INTERNAL",
    "ERR_TLS",
    "ERR_BIND",
    "ERR_RUNTIME",
    "ERR_UNKNOWN_TENANT",
    "ERR_TENANT_INVALID",
    "ERR_OVERLOADED",
    "ERR_MESSAGE_TOO_LARGE",
    "ERR_BATCH_TOO_LARGE",
    "ERR_QUERY_NOT_ALLOWED",
    "ERR_TOKENS_NOT_CONFIGURED",
    "ERR_PII_UNAVAILABLE",
    "ERR_SIDECAR_UNAVAILABLE",
    "ERR_SIDECAR_TIMEOUT",
    "ERR_ABORTED",
]
"""Every error code CoreSDK can raise (the same list as the Node package's ``ERROR_CODES``)."""

ERROR_CODES: Final[frozenset[str]] = frozenset(ErrorCode.__args__)  # type: ignore[attr-defined]
"""The codes of :data:`ErrorCode`, for run-time checks."""

_INVALID_TOKEN: Final = frozenset(
    {
        "ERR_TOKEN_MALFORMED",
        "ERR_TOKEN_ALGORITHM",
        "ERR_TOKEN_UNKNOWN_KEY",
        "ERR_TOKEN_SIGNATURE",
        "ERR_TOKEN_EXPIRED",
        "ERR_TOKEN_NOT_YET_VALID",
        "ERR_TOKEN_CLAIM",
    }
)

_TRANSPORT: Final = frozenset({"ERR_SIDECAR_UNAVAILABLE", "ERR_SIDECAR_TIMEOUT"})


class CoreSDKError(Exception):
    """The error every CoreSDK API raises (or returns in a result's ``error``).

    Example::

        try:
            sdk.evaluate_policy("data.authz.allow", {"action": "read"})
        except CoreSDKError as err:
            if err.code == "ERR_SIDECAR_UNAVAILABLE":
                ...  # deny and alert
    """

    code: ErrorCode
    """The stable error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        """Makes an error; ``message`` must never contain a token, claims or input values."""
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        """The human-readable description."""
        return str(self.args[0]) if self.args else ""

    @property
    def rfc6750_error(self) -> Literal["invalid_token"] | None:
        """The RFC 6750 ``error`` value: ``invalid_token`` for a rejected token, else ``None``."""
        return "invalid_token" if self.code in _INVALID_TOKEN else None

    @property
    def is_transport_failure(self) -> bool:
        """True when the sidecar could not be reached (the only case a fail mode applies to)."""
        return self.code in _TRANSPORT

    def __str__(self) -> str:
        """``[CODE] message``."""
        return f"[{self.code}] {self.message}"

    def __repr__(self) -> str:
        """``CoreSDKError('CODE', 'message')``."""
        return f"CoreSDKError({self.code!r}, {self.message!r})"


def to_code(reason: str) -> ErrorCode:
    """A sidecar ``ErrorInfo.reason`` as an :data:`ErrorCode` (unknown reasons are ``ERR_INTERNAL``)."""
    return reason if reason in ERROR_CODES else "ERR_INTERNAL"  # type: ignore[return-value]
