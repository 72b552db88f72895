"""The FastAPI app of the Python benchmark, in one of four variants (``python bench_app.py VARIANT CFG.json``).

* ``none``: no authentication;
* ``coresdk``: ``CoreSDKMiddleware`` through the sidecar (mutual TLS): token verification (VerifyToken);
* ``coresdk-authorize``: ``CoreSDKMiddleware(query=...)``: verification and the policy decision in one call;
* ``inprocess`` / ``inprocess-authorize``: the same two with the client in ``mode="in-process"`` (the engine
  in the app's process, on the same bundle and key set);
* ``pyjwt``: the usual Python stack, an ``async`` FastAPI dependency with PyJWT's ``PyJWKClient``
  (keys fetched once over loopback HTTP and cached) and ``jwt.decode``: verification only.

Every variant answers ``GET /documents/{doc_id}`` with the caller's subject. Prints ``listening <port>``.
"""

import json
import socket
import sys
from typing import Annotated, Any

import jwt
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from coresdk import CoreSDKClient, Engine, SDKConfig
from coresdk.middleware.fastapi import CoreSDKMiddleware


def build(variant: str, cfg: dict[str, Any]) -> FastAPI:
    """The app for ``variant``."""
    app = FastAPI()
    if variant in ("coresdk", "coresdk-authorize", "inprocess", "inprocess-authorize"):
        if variant.startswith("inprocess"):
            engine = Engine(
                policy_dir=cfg["policy_dir"],
                watch_policies=False,
                jwks_url=cfg["jwks_url"],
                jwks_allow_insecure_http=True,
                issuer=cfg["issuer"],
                audience=cfg["audience"],
            )
            sdk = CoreSDKClient(SDKConfig(mode="in-process", engine=engine, fail_mode="closed"))
        else:
            sdk = CoreSDKClient(
                SDKConfig(
                    sidecar_addr=cfg["sidecar_addr"],
                    tls_ca_file=cfg["ca"],
                    tls_cert_file=cfg["cert"],
                    tls_key_file=cfg["key"],
                    tls_server_name="localhost",
                    fail_mode="closed",
                )
            )
        if variant in ("coresdk", "inprocess"):
            app.add_middleware(CoreSDKMiddleware, client=sdk)
        else:
            app.add_middleware(
                CoreSDKMiddleware,
                client=sdk,
                query="data.authz.allow",
                input=lambda r: {"action": "read", "resource": {"type": "document", "id": r.path_params.get("doc_id", r.url.path)}},
            )

        @app.get("/documents/{doc_id}")
        async def doc(doc_id: str, request: Request) -> dict[str, Any]:
            return {"doc": doc_id, "sub": request.state.coresdk_user["sub"]}

    elif variant == "pyjwt":
        jwks = jwt.PyJWKClient(cfg["jwks_url"], cache_keys=True)
        bearer = HTTPBearer()

        async def current_user(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
            try:
                key = jwks.get_signing_key_from_jwt(creds.credentials)
                claims: dict[str, Any] = jwt.decode(
                    creds.credentials, key.key, algorithms=["RS256"], audience=cfg["audience"], issuer=cfg["issuer"]
                )
            except jwt.PyJWTError:
                raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"}) from None
            return claims

        @app.get("/documents/{doc_id}")
        async def doc_jwt(doc_id: str, user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
            return {"doc": doc_id, "sub": user["sub"]}

    else:

        @app.get("/documents/{doc_id}")
        async def doc_none(doc_id: str) -> dict[str, Any]:
            return {"doc": doc_id, "sub": None}

    return app


def main() -> None:
    """Serves the variant on a free loopback port."""
    variant, cfg_file = sys.argv[1], sys.argv[2]
    with open(cfg_file) as f:
        cfg = json.load(f)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # connections wait in the backlog until uvicorn accepts them
    print(f"listening {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(build(variant, cfg), log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
