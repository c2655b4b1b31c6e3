"""Run one untrusted parse in a child process under a wall-clock timeout and a memory cap.

The child is a fresh interpreter (`subprocess`, in its own session) rather than a
multiprocessing child: multiprocessing's spawn/forkserver children re-import the parent's
`__main__`, which may pull heavy libraries (torch) into every parse and past the memory cap.
The child lowers its RLIMIT_AS first, then imports and runs the target; request and result
travel as JSON over stdin/stdout (never pickle: the parent must not run code that a hostile
file could plant in the child); on the deadline the whole session is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MEMORY_REASON = "exceeds memory/size limits"
_MB = 1024 * 1024
_BOOT = "from ingest.sandbox import child_main; child_main()"


class SandboxError(Exception):
    """The sandboxed call failed; `reason` is a short human sentence."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def limit_memory(max_memory_mb: int) -> None:
    """Cap this process's address space (best effort: not every platform has RLIMIT_AS)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    wanted = int(max_memory_mb) * _MB
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _reason(exc: BaseException, max_memory_mb: int) -> str:
    if isinstance(exc, MemoryError):
        return f"{MEMORY_REASON} (memory cap {max_memory_mb} MB)"
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) and reason else f"{type(exc).__name__}: {exc}"


def _run_request(request: dict) -> tuple[str, Any]:
    """Import and call the requested target; ('ok', value) or ('error', reason)."""
    import importlib

    cap = request["max_memory_mb"]
    try:
        limit_memory(cap)
        target: Any = importlib.import_module(request["module"])
        for name in request["qualname"].split("."):
            target = getattr(target, name)
        return "ok", target(request["arg"])
    except BaseException as exc:  # noqa: BLE001 - everything becomes a reason for the parent
        return "error", _reason(exc, cap)


def child_main() -> None:
    """Child entry point: read the JSON request from stdin, write the JSON outcome to stdout."""
    request = json.loads(sys.stdin.buffer.read())
    sys.path[:] = request["sys_path"]
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the result stream
    outcome = _run_request(request)
    try:
        data = json.dumps(outcome).encode("utf-8")
    except MemoryError:
        data = json.dumps(["error", f"{MEMORY_REASON} (result too large)"]).encode()
    except (TypeError, ValueError) as exc:
        data = json.dumps(["error", f"could not return the result ({exc})"]).encode()
    out.write(data)
    out.flush()


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child and anything it started (its session), then reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


def _death_reason(returncode: int, stderr_tail: str, max_memory_mb: int) -> str:
    """Why a child that returned no result is gone, in words."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return (
            f"parser process died ({name}); the file may be malformed or "
            f"{MEMORY_REASON} (memory cap {max_memory_mb} MB)"
        )
    if "MemoryError" in stderr_tail:
        return f"{MEMORY_REASON} (memory cap {max_memory_mb} MB)"
    last = stderr_tail.strip().splitlines()[-1:] or [""]
    return f"parser process exited ({returncode}) without a result {last[0][:200]}".strip()


def _child_env() -> dict[str, str]:
    """The parent's environment, with this package's root importable by the boot line."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH", "")]))
    return env


def _request(target: Callable, arg: Any, max_memory_mb: int) -> bytes:
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise ValueError("the sandbox target must be a module-level function")
    request = {
        "module": module,
        "qualname": qualname,
        "arg": arg,
        "max_memory_mb": int(max_memory_mb),
        "sys_path": [os.path.abspath(p) if p else os.getcwd() for p in sys.path],
    }
    return json.dumps(request).encode("utf-8")


def run_sandboxed(
    target: Callable[[Any], T], arg: Any, *, timeout_s: float, max_memory_mb: int
) -> T:
    """target(arg) in a child interpreter; raises SandboxError on error, crash or timeout.

    `target` must be a module-level function (the child imports it by name); `arg` and
    its result must be plain JSON data.
    """
    request = _request(target, arg, max_memory_mb)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=hasattr(os, "setsid"),
            env=_child_env(),
        )
        try:
            out, _ = proc.communicate(request, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise SandboxError(f"timed out after {timeout_s:g} s") from None
        except BaseException:
            _kill(proc)
            raise
        errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4096))
        stderr_tail = errors.read().decode("utf-8", "replace")
    try:
        status, payload = json.loads(out) if out else ("died", None)
    except ValueError:  # a truncated stream: the child died mid-write
        status, payload = "died", None
    if status == "died":
        raise SandboxError(_death_reason(proc.returncode, stderr_tail, max_memory_mb))
    if status != "ok":
        raise SandboxError(str(payload))
    return payload
