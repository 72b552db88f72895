"""CoreSDK for Python: token verification, Rego policy decisions and PII masking, in-process or through the CoreSDK sidecar.

Example::

    from coresdk import CoreSDKClient, SDKConfig

    sdk = CoreSDKClient(SDKConfig(sidecar_addr="[::1]:50051", tenant_id="acme-corp", fail_mode="open"))
    decision = sdk.evaluate_policy("data.authz.allow", {"action": "read", "resource": {"type": "document"}})
    decision.allowed, decision.value, decision.revision

:class:`Engine` is the engine itself in this process (the native extension).

Middleware: :mod:`coresdk.middleware.fastapi`, :mod:`coresdk.middleware.flask`,
:mod:`coresdk.middleware.django`.
"""

from __future__ import annotations

from ._native import Engine
from .client import AsyncCoreSDKClient, CoreSDKClient
from .config import FailMode, SDKConfig
from .errors import ERROR_CODES, CoreSDKError, ErrorCode
from .results import AuthorizeResult, BatchResult, ClientStats, Decision, HealthStatus, IsAllowedResult

__version__ = "0.1.0"
"""The package version."""

__all__ = [
    "ERROR_CODES",
    "AsyncCoreSDKClient",
    "AuthorizeResult",
    "BatchResult",
    "ClientStats",
    "CoreSDKClient",
    "CoreSDKError",
    "Decision",
    "Engine",
    "ErrorCode",
    "FailMode",
    "HealthStatus",
    "IsAllowedResult",
    "SDKConfig",
    "__version__",
]
