"""A milvus-lite server on a loopback port, for tests and `bala bench engines`.

milvus-lite 2.5.1 runs Milvus's C++ engine as a child process serving gRPC on the address
given; this starts it on a free loopback port, waits until the port answers, and stops it by
its PID (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 30.0


class LiteServerError(RuntimeError):
    """milvus-lite could not be started here (the message says why)."""


@dataclass(frozen=True)
class LiteServer:
    uri: str
    pid: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LiteServerError(f"milvus-lite exited with code {proc.returncode} on start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise LiteServerError(f"milvus-lite did not listen on 127.0.0.1:{port} in {timeout:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextmanager
def lite_server(db_path: Path, port: int | None = None) -> Iterator[LiteServer]:
    """A running milvus-lite server on 127.0.0.1 over `db_path` (a new or existing .db file,
    name of at most 36 characters); stopped by its PID on exit."""
    try:
        from milvus_lite.server import Server
    except ImportError as exc:  # e.g. setuptools >= 81 lacks pkg_resources
        raise LiteServerError(f"milvus-lite is not importable: {exc}") from exc
    port = port or free_port()
    server = Server(str(db_path), address=f"127.0.0.1:{port}")
    if not server.init() or not server.start():
        server.stop()
        raise LiteServerError(f"milvus-lite did not start on 127.0.0.1:{port} over {db_path}")
    proc = server._p  # the Popen of the engine: its PID is what we stop
    try:
        _wait_for_port(port, proc, START_TIMEOUT_S)
        yield LiteServer(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        _stop(proc)
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m index.milvus_server DB [PORT]`: serve a milvus-lite engine on loopback until
    interrupted (to try BALA_ENGINE=milvus without a Milvus deployment)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m index.milvus_server DB_FILE [PORT]", file=sys.stderr)
        return 2
    port = int(args[1]) if len(args) > 1 else 19530
    for signum in (signal.SIGINT, signal.SIGTERM):  # stop the engine (a background job
        signal.signal(signum, signal.default_int_handler)  # ignores SIGINT by default)
    with lite_server(Path(args[0]), port) as server:
        print(f"milvus-lite serving {args[0]} at {server.uri} (pid {server.pid})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
