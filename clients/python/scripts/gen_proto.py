"""Generates the gRPC stubs of ``coresdk.v1`` from ``proto/`` (or checks them).

The stubs live in ``src/coresdk/_proto/`` (committed, never edited by hand):
``coresdk_pb2.py`` and ``coresdk_pb2_grpc.py`` from grpcio-tools, and their
typed ``.pyi`` twins from mypy-protobuf.

The proto is staged as ``coresdk/_proto/v1/coresdk.proto`` before protoc
runs, so that the generated imports name the package's own module
(``from coresdk._proto.v1 import coresdk_pb2``) instead of a top-level
``coresdk.v1`` that would collide with the package itself. The protobuf
package (``coresdk.v1``) and so every gRPC method path are unchanged.

Usage::

    python scripts/gen_proto.py           # regenerate into src/coresdk/_proto
    python scripts/gen_proto.py --check   # regenerate into a temp dir and diff (exit 1 on drift)
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent
REPO_ROOT = PACKAGE_ROOT.parent.parent
PROTO = REPO_ROOT / "proto" / "coresdk" / "v1" / "coresdk.proto"
OUT = PACKAGE_ROOT / "src" / "coresdk" / "_proto" / "v1"
GENERATED = ("coresdk_pb2.py", "coresdk_pb2.pyi", "coresdk_pb2_grpc.py", "coresdk_pb2_grpc.pyi")


def generate(into: Path) -> None:
    """Runs protoc (grpcio-tools, mypy-protobuf) and writes the stubs into ``into``."""
    from grpc_tools import protoc  # only needed to generate: a dev dependency

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        staged = src / "coresdk" / "_proto" / "v1"
        staged.mkdir(parents=True)
        shutil.copyfile(PROTO, staged / "coresdk.proto")
        out = Path(tmp) / "out"
        out.mkdir()
        bindir = Path(sys.executable).parent
        args = [
            "grpc_tools.protoc",
            f"-I{src}",
            f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            str(staged / "coresdk.proto"),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("gen_proto: protoc failed")
        into.mkdir(parents=True, exist_ok=True)
        for name in GENERATED:
            shutil.copyfile(out / "coresdk" / "_proto" / "v1" / name, into / name)


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed stubs differ from a fresh generation")
    args = parser.parse_args()
    if not args.check:
        generate(OUT)
        print(f"gen_proto: wrote {', '.join(GENERATED)} to {OUT.relative_to(REPO_ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        drift = False
        for name in GENERATED:
            committed = OUT / name
            want = (fresh / name).read_text()
            have = committed.read_text() if committed.exists() else ""
            if want != have:
                drift = True
                sys.stdout.writelines(
                    difflib.unified_diff(have.splitlines(True), want.splitlines(True), f"committed/{name}", f"generated/{name}")
                )
        if drift:
            print("gen_proto: the committed stubs drifted from proto/; run `python scripts/gen_proto.py` and commit", file=sys.stderr)
            return 1
        print(f"gen_proto: {len(GENERATED)} stubs match proto/coresdk/v1/coresdk.proto")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
