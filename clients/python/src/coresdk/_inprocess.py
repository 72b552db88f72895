"""The in-process transport: the sidecar's methods answered by the :class:`~coresdk.Engine` in this process.

In ``mode="in-process"`` the clients run the same operations of
:mod:`coresdk._core` as in sidecar mode (request checks, result mapping, the
values parsed from the engine's JSON text exactly as the sidecar's); only
the effect :class:`~coresdk._core.Attempt` is performed here, by the engine,
and answered with the message the sidecar would send, or the
:class:`CoreSDKError` it would answer with. There is one engine and no
tenant: a call's ``tenant_id`` is not read. Nothing here can be unreachable,
so the fail mode never applies.
"""

from __future__ import annotations

from typing import Any

from ._core import DEFAULT_QUERY, HEALTH, Attempt
from ._native import Engine
from ._proto.v1 import coresdk_pb2 as pb
from .errors import CoreSDKError

__all__ = ["perform"]


def _batch(engine: Engine, req: pb.EvaluatePoliciesRequest) -> pb.EvaluatePoliciesResponse:
    results: list[pb.PolicyResult] = []
    revision = ""
    for item in req.items:
        try:
            defined, value_json, rev = engine.evaluate_json(item.query, item.input_json)
        except CoreSDKError as e:
            results.append(pb.PolicyResult(error_code=e.code, error_message=e.message))
            continue
        revision = revision or rev
        results.append(pb.PolicyResult(value_json=value_json, defined=defined, allowed=value_json == "true"))
    return pb.EvaluatePoliciesResponse(results=results, revision=revision or engine.revision)


def perform(engine: Engine, a: Attempt) -> Any:
    """Answers one attempt with ``engine``: the sidecar's response message, or its error raised."""
    r: Any = a.request
    if a.rpc == "Authorize":
        if r.token == "":
            raise CoreSDKError("ERR_TOKEN_MISSING", "no bearer token")
        allowed, reason, claims_json, decision_json, revision = engine.authorize_json(r.token, r.query or DEFAULT_QUERY, r.input_json)
        return pb.AuthorizeResponse(allowed=allowed, reason=reason, claims_json=claims_json, decision_json=decision_json, revision=revision)
    if a.rpc == "VerifyToken":
        return pb.VerifyTokenResponse(claims_json=engine.verify_token_json(r.token))
    if a.rpc == "EvaluatePolicy":
        defined, value_json, revision = engine.evaluate_json(r.query, r.input_json)
        return pb.EvaluatePolicyResponse(defined=defined, value_json=value_json, revision=revision)
    if a.rpc == "EvaluatePolicies":
        return _batch(engine, r)
    if a.rpc == "MaskPii":
        return pb.MaskPiiResponse(values=engine.mask_pii(list(r.values)))
    if a.rpc == HEALTH:
        return "NOT_SERVING" if engine.closed else "SERVING"
    raise CoreSDKError("ERR_INTERNAL", f"no in-process answer for {a.rpc}")
