"""`bala serve`: run the Streamlit app on one index, bound to one address."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from core.settings import Settings

APP_SCRIPT = Path(__file__).with_name("streamlit_app.py")


def streamlit_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line: headless, XSRF protection on, no telemetry."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.enableXsrfProtection",
        "true",
        "--server.enableCORS",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Run Streamlit in a child process until it exits; returns its exit code.

    SIGTERM/SIGINT to `bala serve` are passed on to the child, so it never outlives us.
    """
    env = dict(os.environ)
    env["BALA_INDEX"] = str(settings.index_dir)
    cmd = streamlit_command(host, port)
    print(f"bala: serving {settings.index_dir} on http://{host}:{port}", file=sys.stderr)
    proc = subprocess.Popen(cmd, env=env, cwd=str(APP_SCRIPT.parents[1]))

    def forward(signum, _frame):
        proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            return proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        _reap(proc)


def _reap(proc: subprocess.Popen) -> None:
    """Make sure the child is gone: terminate, then kill after a grace period."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
