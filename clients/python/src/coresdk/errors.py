"""Typed errors with the stable ``code`` strings the Node package and the Rust engine use.

Branch on :attr:`CoreSDKError.code`, never on the message. Messages never
contain a token, claims or policy input.
"""

from __future__ import annotations

from typing import Final, Literal

from ._generated import contract as _contract

__all__ = ["ERROR_CODES", "CoreSDKError", "ErrorCode"]

ErrorCode = _contract.ErrorCode
"""Every error code CoreSDK can raise (generated from ``proto/contract/errors.json``, as in every language)."""

ERROR_CODES: Final[frozenset[str]] = frozenset(_contract.ERROR_CODE_ORDER)
"""The codes of :data:`ErrorCode`, for run-time checks."""


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
        spec = _contract.ERRORS.get(self.code)
        return "invalid_token" if spec is not None and spec[2] == "invalid_token" else None

    @property
    def is_transport_failure(self) -> bool:
        """True when the sidecar could not be reached (the only case a fail mode applies to)."""
        spec = _contract.ERRORS.get(self.code)
        return spec is not None and spec[4]

    def __str__(self) -> str:
        """``[CODE] message``."""
        return f"[{self.code}] {self.message}"

    def __repr__(self) -> str:
        """``CoreSDKError('CODE', 'message')``."""
        return f"CoreSDKError({self.code!r}, {self.message!r})"


def to_code(reason: str) -> ErrorCode:
    """A sidecar ``ErrorInfo.reason`` as an :data:`ErrorCode` (unknown reasons are ``ERR_INTERNAL``)."""
    return reason if reason in ERROR_CODES else "ERR_INTERNAL"  # type: ignore[return-value]
