"""The repository's sidecar as a real child process: ``node dist/sidecar/cli.js``, or the
``coresdk-sidecar`` program itself (``target/debug/coresdk-sidecar``, built by ``npm test``'s
``cargo build sidecar`` step), which needs no Node."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[4]
BIN = REPO / "dist" / "sidecar" / "cli.js"
RUST_BIN = REPO / "target" / "debug" / "coresdk-sidecar"


class Sidecar:
    """A running sidecar; ``addr`` is where it listens."""

    def __init__(
        self,
        env: dict[str, str],
        args: tuple[str, ...] = (),
        timeout: float = 30.0,
        cwd: Path | None = None,
        wait_serving: bool = True,
        rust: bool = False,
        program: Path | None = None,
    ) -> None:
        if program is not None:  # another coresdk-sidecar program (the wheel's console script)
            argv = [str(program), *args]
        elif rust:
            if not RUST_BIN.is_file():
                raise RuntimeError(f"{RUST_BIN} is missing: run `cargo build -p coresdk-sidecar` at the repository root first")
            argv = [str(RUST_BIN), *args]
        else:
            if not BIN.is_file():
                raise RuntimeError(f"{BIN} is missing: run `npm ci` (or `npm run build:ts`) at the repository root first")
            argv = ["node", str(BIN), *args]
        base = {k: v for k, v in os.environ.items() if not k.startswith("CORESDK_")}
        self.proc = subprocess.Popen(
            argv,
            env={**base, **env},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.logs: list[dict[str, Any]] = []
        self.stdout_text: list[str] = []
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.stderr = ""
        try:
            listening = self.wait_for("listening", timeout)
            self.addr: str = listening["addr"]
            if wait_serving:
                self.wait_for("serving", timeout)
        except BaseException:
            self.stop()  # never leave a half-started sidecar behind
            raise

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_text.append(line)
            if line.startswith("{"):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                self.logs.append(rec)
                self._lines.put(rec)
        self._lines.put(None)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def wait_for(self, event: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first log line with ``event`` (raises if the process exits first)."""
        for rec in self.logs:
            if rec.get("event") == event:
                return rec
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"sidecar: no {event!r} log line in {timeout} s; stderr: {self.stderr}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"sidecar exited ({self.proc.wait()}) before {event!r}; stderr: {self.stderr}")
            if line.get("event") == event:
                return line

    def stop(self) -> None:
        """SIGTERM, then wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def dead_port() -> int:
    """A loopback port where nothing listens."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


class BlackHole:
    """Accepts TCP connections on loopback and never answers a byte (a "slow" sidecar)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                c, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(c)

    def close(self) -> None:
        """Drops every connection and stops listening."""
        self._stop = True
        self._sock.close()
        for c in self._held:
            c.close()


DEFAULT_ADDR = "[::1]:50051"
"""The documented default address: SDKConfig's default, the README's, where ``coresdk-sidecar --dev`` listens."""


def _default_addr_free() -> bool:
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::1", 50051))
        except OSError:
            return False
        return True


def dev_sidecar(home: Path, cwd: Path, wait_free_s: float = 120.0) -> Sidecar:
    """``coresdk-sidecar --dev`` as the docs run it: no ``--addr``, so on :data:`DEFAULT_ADDR`.

    The program itself (no Node on ``PATH``), with ``home`` as ``HOME`` (where
    ``--dev`` keeps its key set). Only the AuthZEN listener, which the Python
    client never uses, is moved off its development port (50080) with
    ``--authzen-addr [::1]:0``. Another test's sidecar (another language's,
    running at the same time) may hold the address: waits up to
    ``wait_free_s`` for it, then starts again if that one took it first.
    """
    env = {"HOME": str(home), "PATH": str(cwd / "no-bin"), "XDG_STATE_HOME": ""}
    deadline = time.monotonic() + wait_free_s
    while True:
        while not _default_addr_free():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{DEFAULT_ADDR} stays taken: stop whatever listens there (another --dev sidecar?)")
            time.sleep(0.2)
        try:
            s = Sidecar(env, ("--dev", "--authzen-addr", "[::1]:0"), cwd=cwd, rust=True)
        except RuntimeError:
            if time.monotonic() > deadline or _default_addr_free():
                raise  # not a lost race for the address
            continue
        if s.addr != DEFAULT_ADDR:
            s.stop()
            raise RuntimeError(f"coresdk-sidecar --dev listened on {s.addr}, not on {DEFAULT_ADDR}")
        return s


def dev_token(sidecar: Sidecar, timeout: float = 10.0) -> str:
    """The development token ``--dev`` printed (subject ``dev-user``)."""
    deadline = time.monotonic() + timeout
    while True:
        for i, line in enumerate(sidecar.stdout_text):
            if line.startswith("Development token") and i + 1 < len(sidecar.stdout_text):
                return sidecar.stdout_text[i + 1].strip()
        if time.monotonic() > deadline:
            raise AssertionError("the --dev sidecar printed no development token")
        time.sleep(0.05)
