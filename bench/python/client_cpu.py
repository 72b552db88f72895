"""The client's own CPU per call: CoreSDKClient / AsyncCoreSDKClient against a raw grpcio call.

``python client_cpu.py CFG.json TOKEN [N]``: N VerifyToken calls per cell (default 5000, after 500
of warm-up, in five interleaved rounds), one at a time (and, for asyncio, also 16 in flight), over
one mutual-TLS channel each way, timing this process's CPU
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

ROUNDS = 5
"""Cells take turns this many times, so that drifting load hits them all alike."""


def measure(cells: dict[str, Callable[[], object]], n: int) -> dict[str, dict[str, float]]:
    """CPU and wall microseconds per call of each cell, ``n`` calls each, in ``ROUNDS`` interleaved rounds."""
    cpu = dict.fromkeys(cells, 0.0)
    wall = dict.fromkeys(cells, 0.0)
    for fn in cells.values():
        for _ in range(min(500, n)):
            fn()
    per = max(1, n // ROUNDS)
    for _ in range(ROUNDS):
        for name, fn in cells.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(per):
                fn()
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
    total = per * ROUNDS
    return {k: {"cpu_us": cpu[k] / total * 1e6, "wall_us": wall[k] / total * 1e6} for k in cells}


async def ameasure(cells: dict[str, tuple[Callable[[], Awaitable[object]], int]], n: int) -> dict[str, dict[str, float]]:
    """The asyncio :func:`measure`; each cell is ``(fn, calls in flight)``."""
    cpu = dict.fromkeys(cells, 0.0)
    wall = dict.fromkeys(cells, 0.0)
    for fn, _ in cells.values():
        for _ in range(min(500, n)):
            await fn()
    per = max(16, n // ROUNDS)
    per -= per % 16
    for _ in range(ROUNDS):
        for name, (fn, inflight) in cells.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(per // inflight):
                if inflight == 1:
                    await fn()
                else:
                    await asyncio.gather(*(fn() for _ in range(inflight)))
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
    total = per * ROUNDS
    return {k: {"cpu_us": cpu[k] / total * 1e6, "wall_us": wall[k] / total * 1e6} for k in cells}


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
    sdk = CoreSDKClient(config)
    assert sdk.verify_token(token).allowed
    jwks = jwt.PyJWKClient(cfg["jwks_url"], cache_keys=True)

    def pyjwt_verify() -> object:
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=cfg["audience"], issuer=cfg["issuer"])

    out.update(
        measure(
            {
                "raw grpcio (sync)": lambda: raw.VerifyToken(req, timeout=5),
                "CoreSDKClient.verify_token": lambda: sdk.verify_token(token),
                "PyJWT PyJWKClient + decode (in-process)": pyjwt_verify,
            },
            n,
        )
    )
    sdk.close()

    async def aio() -> None:
        ch = grpc.aio.secure_channel(cfg["sidecar_addr"], creds, options=options)
        stub = pb_grpc.CoreSDKStub(ch)
        async with AsyncCoreSDKClient(config) as asdk:
            assert (await asdk.verify_token(token)).allowed
            out.update(
                await ameasure(
                    {
                        "raw grpc.aio": (lambda: stub.VerifyToken(req, timeout=5), 1),
                        "AsyncCoreSDKClient.verify_token": (lambda: asdk.verify_token(token), 1),
                        "raw grpc.aio, 16 in flight": (lambda: stub.VerifyToken(req, timeout=5), 16),
                        "AsyncCoreSDKClient.verify_token, 16 in flight": (lambda: asdk.verify_token(token), 16),
                    },
                    n,
                )
            )
        await ch.close(None)

    asyncio.run(aio())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
