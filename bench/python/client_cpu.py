"""The client's own CPU per call: CoreSDKClient / AsyncCoreSDKClient against a raw grpcio call.

``python client_cpu.py CFG.json TOKEN [N]``: N VerifyToken calls (default 5000, after 500 of
warm-up), one at a time (and, for asyncio, also 16 in flight), over one mutual-TLS channel each way, timing this process's CPU
(``time.process_time``: every thread, grpcio's included) and the wall clock. The sidecar's own
CPU is not counted (another process). Also PyJWT's in-process verification of the same token, for
reference. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import jwt

from coresdk import AsyncCoreSDKClient, CoreSDKClient, SDKConfig
from coresdk._proto.v1 import coresdk_pb2 as pb
from coresdk._proto.v1 import coresdk_pb2_grpc as pb_grpc


def measure(fn: Callable[[], object], n: int) -> dict[str, float]:
    """CPU and wall microseconds per call of ``fn``."""
    for _ in range(min(500, n)):
        fn()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return {"cpu_us": (time.process_time() - c0) / n * 1e6, "wall_us": (time.perf_counter() - w0) / n * 1e6}


async def ameasure(fn: Callable[[], Awaitable[object]], n: int, concurrency: int = 1) -> dict[str, float]:
    """The asyncio :func:`measure`, with ``concurrency`` calls in flight at a time."""
    for _ in range(min(500, n)):
        await fn()
    n -= n % concurrency
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n // concurrency):
        if concurrency == 1:
            await fn()
        else:
            await asyncio.gather(*(fn() for _ in range(concurrency)))
    return {"cpu_us": (time.process_time() - c0) / n * 1e6, "wall_us": (time.perf_counter() - w0) / n * 1e6}


def main() -> None:
    """Runs every measurement and prints the JSON."""
    with open(sys.argv[1]) as f:
        cfg: dict[str, Any] = json.load(f)
    token = sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    config = SDKConfig(
        sidecar_addr=cfg["sidecar_addr"],
        tls_ca_file=cfg["ca"],
        tls_cert_file=cfg["cert"],
        tls_key_file=cfg["key"],
        tls_server_name="localhost",
        fail_mode="closed",
    )

    def read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    creds = grpc.ssl_channel_credentials(read(cfg["ca"]), read(cfg["key"]), read(cfg["cert"]))
    options = [("grpc.ssl_target_name_override", "localhost")]
    req = pb.VerifyTokenRequest(tenant_id="acme-corp", token=token)
    out: dict[str, Any] = {"n": n}

    raw = pb_grpc.CoreSDKStub(grpc.secure_channel(cfg["sidecar_addr"], creds, options=options))
    assert raw.VerifyToken(req, timeout=5).claims_json
    out["raw grpcio (sync)"] = measure(lambda: raw.VerifyToken(req, timeout=5), n)
    sdk = CoreSDKClient(config)
    assert sdk.verify_token(token).allowed
    out["CoreSDKClient.verify_token"] = measure(lambda: sdk.verify_token(token), n)
    sdk.close()

    async def aio() -> None:
        ch = grpc.aio.secure_channel(cfg["sidecar_addr"], creds, options=options)
        stub = pb_grpc.CoreSDKStub(ch)
        out["raw grpc.aio"] = await ameasure(lambda: stub.VerifyToken(req, timeout=5), n)
        out["raw grpc.aio, 16 in flight"] = await ameasure(lambda: stub.VerifyToken(req, timeout=5), n, 16)
        await ch.close(None)
        async with AsyncCoreSDKClient(config) as asdk:
            assert (await asdk.verify_token(token)).allowed
            out["AsyncCoreSDKClient.verify_token"] = await ameasure(lambda: asdk.verify_token(token), n)
            out["AsyncCoreSDKClient.verify_token, 16 in flight"] = await ameasure(lambda: asdk.verify_token(token), n, 16)

    asyncio.run(aio())
    jwks = jwt.PyJWKClient(cfg["jwks_url"], cache_keys=True)

    def pyjwt_verify() -> object:
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=cfg["audience"], issuer=cfg["issuer"])

    out["PyJWT PyJWKClient + decode (in-process)"] = measure(pyjwt_verify, n)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
