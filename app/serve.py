"""`bala serve`: run the Streamlit app on one index, bound to one address."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from app.auth import (
    AuthConfigError,
    AuthMode,
    default_secrets_files,
    resolve_auth,
    serve_auth_problem,
)
from core.settings import Settings, env_names

APP_SCRIPT = Path(__file__).with_name("streamlit_app.py")


def streamlit_command(host: str, port: int, secrets: Path | None = None) -> list[str]:
    """The `streamlit run` command line: headless, XSRF protection on, no telemetry."""
    extra = ["--secrets.files", str(secrets)] if secrets else []
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
    ] + extra


def auth_mode(host: str, secrets: Path | None, proxy_header: str | None, no_auth: bool) -> AuthMode:
    """The sign-in `bala serve` will run with; raises AuthConfigError (a bad secrets file, or
    a non-loopback host without sign-in and without --no-auth) with the reason."""
    if secrets is not None and not secrets.is_file():
        raise AuthConfigError(f"{secrets}: no such secrets file")
    files = [secrets] if secrets else default_secrets_files(APP_SCRIPT.parents[1])
    mode = resolve_auth(files, proxy_header)
    if secrets is not None and mode.kind == "none" and not no_auth:
        raise AuthConfigError(f"{secrets}: no [auth] section, so nobody could sign in")
    if problem := serve_auth_problem(host, mode, no_auth):
        raise AuthConfigError(problem)
    return mode


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8501,
    mode: AuthMode = AuthMode("none"),
) -> int:
    """Run Streamlit in a child process until it exits; returns its exit code.

    SIGTERM/SIGINT to `bala serve` are passed on to the child, so it never outlives us.
    """
    env = dict(os.environ)
    env["BALA_INDEX"] = str(settings.index_dir)
    nested, flat = env_names("serve", "auth_proxy_header")
    env.pop(nested, None)  # the app reads the header from the flag's value only
    env.pop(flat, None)
    if mode.kind == "proxy":
        env[flat] = mode.detail
    secrets = Path(mode.detail) if mode.kind == "oidc" else None
    cmd = streamlit_command(host, port, secrets)
    sign_in = {"oidc": f"OpenID Connect ({mode.detail})", "proxy": f"proxy header {mode.detail}"}
    print(
        f"bala: serving {settings.index_dir} on http://{host}:{port}; sign-in: "
        f"{sign_in.get(mode.kind, 'off')}",
        file=sys.stderr,
    )
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
