"""The wheel, as a Python team installs it: one wheel with the engine and ``coresdk-sidecar``.

Builds the wheel from this checkout with maturin (the dev profile, stripped:
it reuses the workspace's debug build; a release wheel differs only in
optimisation), installs it into a fresh virtualenv, and then, with no Node
on ``PATH`` (only the virtualenv's ``bin``) and a fresh temporary ``HOME``:
``coresdk-sidecar --dev`` from the wheel serves, and the README's FastAPI
sample, run by the virtualenv's uvicorn, answers the same statuses and
claims with ``mode="sidecar"`` and with ``mode="in-process"`` (the engine
configured by ``CORESDK_*`` with the dev key set and bundle that ``--dev``
wrote). The virtualenv gets the wheel's dependencies from the package index.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.http import RawResponse, raw_request
from support.sidecar import REPO, Sidecar, dev_token
from test_example import readme_sample

PACKAGE = REPO / "clients" / "python"


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    r = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def uvicorn(venv: Path, app_dir: Path, env: dict[str, str]) -> Iterator[int]:
    """The app in ``app_dir/app.py``, served by the virtualenv's uvicorn; yields the port."""
    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=app_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise AssertionError(f"uvicorn did not start: {proc.communicate()[1][-4000:]}") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def answers(port: int, token: str) -> list[tuple[int, object]]:
    """What the sample answers: statuses, claims, the decision."""
    out: list[tuple[int, object]] = []
    for path, headers in [
        ("/me", [("Authorization", f"Bearer {token}")]),
        ("/me", []),
        ("/me", [("Authorization", "Bearer not-a-token")]),
        ("/documents/doc-1", [("Authorization", f"Bearer {token}")]),
    ]:
        r: RawResponse = raw_request(port, "GET", path, headers)
        body = r.json() if r.headers.get("content-type", "").endswith("json") else None
        if isinstance(body, dict):
            body.pop("revision", None)
        out.append((r.status, body))
    return out


def test_wheel_in_a_fresh_virtualenv_without_node(tmp_path: Path) -> None:
    wheels, venv, home, app = tmp_path / "wheels", tmp_path / "venv", tmp_path / "home", tmp_path / "app"
    for d in (wheels, home, app):
        d.mkdir()
    build_env = {**os.environ, "MATURIN_PEP517_ARGS": "--profile dev --strip"}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(PACKAGE)], env=build_env)
    (wheel,) = wheels.glob("coresdk-*.whl")
    assert "abi3" in wheel.name
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{wheel}[fastapi]", "uvicorn"])
    program = venv / "bin" / "coresdk-sidecar"
    assert program.is_file()

    env = {"HOME": str(home), "PATH": str(venv / "bin"), "XDG_STATE_HOME": ""}
    assert shutil.which("node", path=env["PATH"]) is None
    sidecar = Sidecar(env, ("--dev", "--addr", "127.0.0.1:0", "--authzen-addr", "127.0.0.1:0"), cwd=tmp_path, program=program)
    try:
        token = dev_token(sidecar)
        dev = home / ".local" / "state" / "coresdk" / "dev"
        (policies,) = dev.glob("policies-*")
        sample = readme_sample().replace('"[::1]:50051"', f'"{sidecar.addr}"')
        assert 'mode="sidecar"' in sample
        base = {k: v for k, v in os.environ.items() if not k.startswith("CORESDK_")}
        run_env = {**base, **env}

        (app / "app.py").write_text(sample)
        with uvicorn(venv, app, run_env) as port:
            via_sidecar = answers(port, token)

        (app / "app.py").write_text(sample.replace('mode="sidecar"', 'mode="in-process"'))
        engine_env = {
            "CORESDK_POLICY_DIR": str(policies),
            "CORESDK_JWKS_FILE": str(dev / "jwks.json"),
            "CORESDK_ISSUER": "https://dev.coresdk.local",
            "CORESDK_AUDIENCE": "coresdk-dev",
        }
        sidecar.stop()  # in-process needs no sidecar
        with uvicorn(venv, app, {**run_env, **engine_env}) as port:
            in_process = answers(port, token)
    finally:
        sidecar.stop()

    assert [s for s, _ in via_sidecar] == [200, 401, 401, 200]
    me = via_sidecar[0][1]
    assert isinstance(me, dict) and isinstance(me["claims"], dict) and me["claims"]["sub"] == "dev-user"
    assert via_sidecar[3][1] == {"allowed": True, "value": True}
    assert in_process == via_sidecar
