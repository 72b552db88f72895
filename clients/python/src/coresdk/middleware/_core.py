"""The framework-independent core of the middleware, a port of the Node package's ``src/http/``.

From a request's ``Authorization`` header values to claims or an RFC 9457
problem response (with its RFC 6750 ``WWW-Authenticate`` challenge), and
the policy guard. Every framework adapter (FastAPI/Starlette, Flask,
Django) answers exactly what the Node Express and Fastify middleware
answer: same status, ``type``, ``title``, ``detail``, ``code``, headers and
body bytes; the shared case file ``clients/conformance/cases.json`` checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from .. import _otel
from .._generated import contract as _contract
from ..client import AsyncCoreSDKClient, CoreSDKClient
from ..errors import CoreSDKError
from ..results import AuthorizeResult, IsAllowedResult

__all__ = [
    "PROBLEM_TYPE_BASE",
    "AuthOutcome",
    "BearerCredentials",
    "ProblemException",
    "ProblemResponse",
    "bearer_from_headers",
    "problem",
    "problem_for",
    "trace_id_of",
]

Claims = dict[str, Any]
"""Verified claims as the middleware puts them on the request."""

PROBLEM_TYPE_BASE: Final = _contract.PROBLEM_TYPE_BASE
"""The base of every problem ``type`` URI."""

ProblemKind = _contract.ProblemKind
"""The kinds of problem (``proto/contract/errors.json``)."""

_B64TOKEN: Final = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_TRACEPARENT: Final = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_NOT_QUOTABLE: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_WS: Final = re.compile(r"\s")


@dataclass(frozen=True)
class ProblemResponse:
    """A response ready to send: status, headers (lower-case names) and the RFC 9457 body."""

    status: int
    """The HTTP status."""
    headers: dict[str, str]
    """``content-type``, ``cache-control``, and ``www-authenticate`` / ``retry-after`` when they apply."""
    body: dict[str, Any]
    """``type``, ``title``, ``status``, ``detail``, ``instance``, ``code`` and ``trace_id`` when known."""

    def body_bytes(self) -> bytes:
        """The body as the Node middleware sends it (``JSON.stringify``: compact, same member order)."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class ProblemException(Exception):
    """Raised by route guards (``require_policy``) to answer with a problem; the middleware sends it."""

    def __init__(self, response: ProblemResponse) -> None:
        """Carries ``response``."""
        super().__init__(f"{response.status} {response.body.get('code')}")
        self.response = response


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header, if valid (and not all zeros)."""
    if traceparent is None:
        return None
    m = _TRACEPARENT.match(traceparent.strip())
    if m is None or m.group(1) == "0" * 32:
        return None
    return m.group(1)


def _quote(s: str) -> str:
    # RFC 6750 §3: error_description uses %x20-21 / %x23-5B / %x5D-7E only.
    return _NOT_QUOTABLE.sub("", s)


def problem(
    kind: ProblemKind, *, detail: str, code: str, instance: str, trace_id: str | None = None, realm: str | None = None
) -> ProblemResponse:
    """Builds a problem response exactly as the Node middleware's ``problem()`` does.

    401s carry ``WWW-Authenticate: Bearer`` (with ``error="invalid_token"`` for
    a rejected token, without an error code for a missing one); 400 carries
    ``error="invalid_request"``; 503 carries ``Retry-After: 1``.
    """
    status, title, _ = _contract.PROBLEMS[kind]
    headers = {"content-type": "application/problem+json", "cache-control": "no-store"}
    r = f'realm="{_quote("coresdk" if realm is None else realm)}"'
    if kind == "missing-credentials":
        headers["www-authenticate"] = f"Bearer {r}"
    elif kind == "invalid-token":
        headers["www-authenticate"] = f'Bearer {r}, error="invalid_token", error_description="{_quote(detail)}"'
    elif kind == "invalid-request":
        headers["www-authenticate"] = f'Bearer {r}, error="invalid_request", error_description="{_quote(detail)}"'
    elif kind == "authorization-unavailable":
        headers["retry-after"] = "1"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if trace_id is not None:
        body["trace_id"] = trace_id
    return ProblemResponse(status, headers, body)


@dataclass(frozen=True)
class BearerCredentials:
    """What the ``Authorization`` header holds: ``none``, a ``token`` (still to verify), or ``malformed``."""

    kind: Literal["none", "token", "malformed"]
    """``none``: no header or another scheme (401); ``malformed``: 400; ``token``: verify it."""
    token: str = field(default="", repr=False)
    """The token, for ``kind == "token"`` (never logged)."""
    detail: str = ""
    """Why it is malformed."""


def bearer_from_headers(values: Sequence[str], *, joined: bool = False) -> BearerCredentials:
    """Classifies a request's ``Authorization`` header values as RFC 6750 §2.1 says.

    Exactly one header; scheme ``Bearer`` in any case; one space or more; a
    b64token. ``joined=True`` says the server folded repeated headers into one
    value with commas (WSGI does): a comma cannot occur in a b64token, so a
    bearer value with one was sent as several headers.
    """
    if len(values) == 0:
        return BearerCredentials("none")
    if len(values) > 1:
        return BearerCredentials("malformed", detail="more than one Authorization header")
    value = values[0].strip()
    m = _WS.search(value)
    scheme = value if m is None else value[: m.start()]
    if joined and "," in value and scheme.lower().rstrip(",") == "bearer":
        return BearerCredentials("malformed", detail="more than one Authorization header")
    if scheme.lower() != "bearer":
        return BearerCredentials("none")
    token = "" if m is None else value[m.start() :].strip()
    if token == "":
        return BearerCredentials("malformed", detail="the Bearer scheme needs a token")
    if _B64TOKEN.match(token) is None:
        return BearerCredentials("malformed", detail="the bearer token has characters a token cannot have")
    return BearerCredentials("token", token=token)


@dataclass(frozen=True)
class RequestFacts:
    """What the core needs from a request."""

    authorization: Sequence[str]
    """Every ``Authorization`` header value, in order."""
    path: str
    """The request path, without its query."""
    traceparent: str | None
    """The W3C ``traceparent`` header, if any."""
    joined: bool = False
    """True when the server folded repeated headers into one value (WSGI)."""


@dataclass(frozen=True)
class AuthOutcome:
    """What the middleware decided: go on with ``claims``, or answer ``problem``."""

    ok: bool
    """True: go on."""
    claims: Claims | None = None
    """The verified claims (``None`` for an anonymous request or a fail-open)."""
    degraded: bool = False
    """True for a fail-open."""
    problem: ProblemResponse | None = None
    """The answer, when not ``ok``."""


def problem_for(error: CoreSDKError | None, facts: RequestFacts, realm: str | None, denied: str) -> ProblemResponse:
    """The problem for a failed authorization, by error code (the Node ``problemFor``)."""
    common: dict[str, Any] = {"instance": facts.path, "trace_id": trace_id_of(facts.traceparent), "realm": realm}
    if error is None:
        return problem("forbidden", code=_contract.POLICY_DENIED_CODE, detail=denied, **common)
    # The contract (proto/contract/errors.json) says which problem each code is and with what detail.
    _, kind, _, detail, _ = _contract.ERRORS.get(error.code, _contract.ERRORS["ERR_INTERNAL"])
    default = _contract.PROBLEMS[kind][2]
    return problem(cast("ProblemKind", kind), code=error.code, detail=detail or default or "", **common)


InputFn = Callable[[Any], Mapping[str, Any]]
"""Builds a policy input from the framework's request object."""


@dataclass(frozen=True)
class AuthOptions:
    """Options shared by every framework adapter."""

    require_token: bool = True
    """Answer 401 to a request without a bearer token; ``False`` lets it through with ``None`` claims."""
    query: str | None = None
    """A policy query ``authorize`` evaluates with the claims; default: verification only."""
    input: InputFn | None = None
    """The policy input for ``query`` (claims are added as ``input.claims``)."""
    realm: str | None = None
    """The ``realm`` of ``WWW-Authenticate`` challenges (default ``coresdk``)."""


class _Pre:
    """The part of authentication that needs no sidecar: the header, and the policy input."""

    def __init__(self, facts: RequestFacts, request: Any, opts: AuthOptions) -> None:
        self.outcome: AuthOutcome | None = None
        self.token = ""
        self.input: Mapping[str, Any] | None = None
        creds = bearer_from_headers(facts.authorization, joined=facts.joined)
        common: dict[str, Any] = {"instance": facts.path, "trace_id": trace_id_of(facts.traceparent), "realm": opts.realm}
        if creds.kind == "malformed":
            self.outcome = AuthOutcome(False, problem=problem("invalid-request", code="ERR_TOKEN_MALFORMED", detail=creds.detail, **common))
            return
        if creds.kind == "none":
            if not opts.require_token:
                self.outcome = AuthOutcome(True)
            else:
                self.outcome = AuthOutcome(
                    False, problem=problem("missing-credentials", code="ERR_TOKEN_MISSING", detail="a bearer token is required", **common)
                )
            return
        self.token = creds.token
        if opts.input is not None:
            try:
                self.input = opts.input(request)
            except Exception:  # noqa: BLE001 - a failing input builder is a 500 problem, not a crash
                self.outcome = AuthOutcome(
                    False,
                    problem=problem(
                        "authorization-error", code="ERR_INPUT_INVALID", detail="the policy input could not be built", **common
                    ),
                )


def _after(r: AuthorizeResult, facts: RequestFacts, opts: AuthOptions) -> AuthOutcome:
    if r.allowed:
        return AuthOutcome(True, claims=r.claims, degraded=r.degraded)
    return AuthOutcome(False, problem=problem_for(r.error, facts, opts.realm, "the policy denied this request"))


def authenticate_sync(client: CoreSDKClient, facts: RequestFacts, request: Any, opts: AuthOptions) -> AuthOutcome:
    """Authenticates one request with the sync client. Never raises."""
    pre = _Pre(facts, request, opts)
    if pre.outcome is not None:
        return pre.outcome
    name = "coresdk.verify" if opts.query is None else "coresdk.authorize"
    with _otel.span(name, client.config.tenant_id) as rec:
        r = client.verify_token(pre.token) if opts.query is None else client.authorize(pre.token, query=opts.query, input=pre.input)
        rec.record(r)
    return _after(r, facts, opts)


async def authenticate_async(client: AsyncCoreSDKClient, facts: RequestFacts, request: Any, opts: AuthOptions) -> AuthOutcome:
    """Authenticates one request with the asyncio client. Never raises."""
    pre = _Pre(facts, request, opts)
    if pre.outcome is not None:
        return pre.outcome
    name = "coresdk.verify" if opts.query is None else "coresdk.authorize"
    with _otel.span(name, client.config.tenant_id) as rec:
        if opts.query is None:
            r = await client.verify_token(pre.token)
        else:
            r = await client.authorize(pre.token, query=opts.query, input=pre.input)
        rec.record(r)
    return _after(r, facts, opts)


def _guard_input(input: Mapping[str, Any], claims: Claims | None) -> dict[str, Any]:
    return {**input, "claims": claims}


def _guard_result(r: IsAllowedResult, query: str, facts: RequestFacts, realm: str | None) -> ProblemResponse | None:
    if r.allowed:
        return None
    if r.error is not None and not r.error.is_transport_failure and r.error.code.startswith("ERR_TOKEN"):
        return problem_for(r.error, facts, realm, "")
    return problem_for(r.error, facts, realm, f"the policy {query} denied this request")


def guard_sync(
    client: CoreSDKClient, query: str, input: Mapping[str, Any], claims: Claims | None, facts: RequestFacts, realm: str | None = None
) -> ProblemResponse | None:
    """Evaluates a route's policy with the claims as ``input.claims``; the problem to answer, or ``None``. Never raises."""
    with _otel.span("coresdk.evaluate", client.config.tenant_id) as rec:
        r = client.is_allowed(query, _guard_input(input, claims))
        rec.record(r)
    return _guard_result(r, query, facts, realm)


async def guard_async(
    client: AsyncCoreSDKClient, query: str, input: Mapping[str, Any], claims: Claims | None, facts: RequestFacts, realm: str | None = None
) -> ProblemResponse | None:
    """The asyncio :func:`guard_sync`."""
    with _otel.span("coresdk.evaluate", client.config.tenant_id) as rec:
        r = await client.is_allowed(query, _guard_input(input, claims))
        rec.record(r)
    return _guard_result(r, query, facts, realm)


def input_error_problem(facts: RequestFacts, realm: str | None) -> ProblemResponse:
    """The 500 problem for a policy input that could not be built."""
    return problem(
        "authorization-error",
        code="ERR_INPUT_INVALID",
        detail="the policy input could not be built",
        instance=facts.path,
        trace_id=trace_id_of(facts.traceparent),
        realm=realm,
    )
