"""A FastAPI service protected by CoreSDK through the sidecar.

    npx coresdk-sidecar --dev                 # terminal 1: prints a development token
    uvicorn app:app --port 8000               # terminal 2 (CORESDK_FAIL_MODE=closed to fail closed)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/documents/doc-1

``CoreSDKMiddleware`` verifies the bearer token of every request (claims on
``request.state.coresdk_user``); each document route asks the example bundle's
``data.authz.allow`` (examples/policies) through a ``require_policy`` dependency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from coresdk import CoreSDKClient, SDKConfig
from coresdk.middleware.fastapi import CoreSDKMiddleware, coresdk_user, require_policy

# coresdk.toml [sdk] and CORESDK_* (CORESDK_SIDECAR_ADDR, CORESDK_FAIL_MODE, CORESDK_TLS_*...);
# without them: [::1]:50051, tenant acme-corp, fail_mode "open".
_sdk = CoreSDKClient(SDKConfig.from_env())

app = FastAPI(title="coresdk example")
app.add_middleware(CoreSDKMiddleware, client=_sdk)

Claims = Annotated[dict[str, Any] | None, Depends(coresdk_user)]


def document(action: str) -> Any:
    """The route guard: asks whether the caller may ``action`` the document in the path."""
    return Depends(
        require_policy(
            "data.authz.allow",
            input=lambda request: {"action": action, "resource": {"type": "document", "id": request.path_params["doc_id"]}},
        )
    )


@app.get("/me")
async def me(claims: Claims) -> dict[str, Any]:
    """Who is calling (``null`` claims when the sidecar is unreachable and fail_mode is open)."""
    return {"claims": claims}


@app.get("/documents/{doc_id}", dependencies=[document("read")])
async def read_document(doc_id: str, claims: Claims) -> dict[str, Any]:
    """Readable by admins, any role granting read on documents, and the document's owner."""
    return {"document": doc_id, "reader": None if claims is None else claims.get("sub")}


@app.put("/documents/{doc_id}", dependencies=[document("write")])
async def write_document(doc_id: str) -> dict[str, Any]:
    """Writable by admins, editors and the owner."""
    return {"document": doc_id, "written": True}


@app.get("/decide")
async def decide(request: Request) -> dict[str, Any]:
    """A decision without a token check in the path: what the policy says for a fixed input."""
    decision = await _sdk.aio.evaluate_policy(
        "data.authz.allow", {"user": {"id": "alice", "roles": ["viewer"]}, "action": "read", "resource": {"type": "document"}}
    )
    return {"allowed": decision.allowed, "value": decision.value, "revision": decision.revision}
