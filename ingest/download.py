"""`bala fetch`'s IO edge: a polite HTTP GET (rate limit, retries with backoff) and atomic
file writes. The URLs and the meaning of the answers live in `ingest/fetch.py`.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from core.settings import FetchSettings
from ingest.fetch import min_interval, retry_delay

USER_AGENT = "bala/0.1 (literature assistant; +NCBI E-utilities)"
RETRY_STATUS = {429, 500, 502, 503, 504}


class FetchError(Exception):
    """A request that failed for good; `network` is True when the server could not be
    reached at all (later requests would fail the same way)."""

    def __init__(self, url: str, reason: str, network: bool = False):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.network = url, reason, network


class RateLimiter:
    """Spaces request starts at least `interval` seconds apart (thread-safe)."""

    def __init__(self, interval: float, clock=time.monotonic, sleep=time.sleep):
        self.interval, self._clock, self._sleep = interval, clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._clock()
            self._next = now + self.interval


class HttpClient:
    """GET with NCBI's manners: at most 3 (or 10 with a key) requests per second, counting
    retries; retries on 429, 5xx, timeouts and dropped connections, waiting Retry-After or
    an exponential backoff."""

    def __init__(
        self,
        fetch: FetchSettings,
        sleep: Callable[[float], None] = time.sleep,
        interval: float | None = None,
    ):
        """`interval`: seconds between request starts (default: NCBI's, `min_interval`)."""
        self.fetch = fetch
        self.limiter = RateLimiter(
            min_interval(fetch) if interval is None else interval, sleep=sleep
        )
        self._sleep = sleep
        self.requests = 0  # every attempt, retries included
        self._opener = urllib.request.build_opener()

    def get(self, url: str) -> bytes:
        last = ""
        for attempt in range(self.fetch.fetch_retries + 1):
            if attempt:
                self._sleep(retry_delay(attempt - 1, self.fetch.fetch_backoff_s, self._retry_after))
            self._retry_after = None
            self.limiter.wait()
            self.requests += 1
            try:
                return self._once(url)
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRY_STATUS:
                    raise FetchError(url, f"HTTP {exc.code} {exc.reason}") from None
                self._retry_after = exc.headers.get("Retry-After") if exc.headers else None
                last = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                last = _network_reason(exc)
        refused = "refused" in last or "resolve" in last or "unreachable" in last
        tries = self.fetch.fetch_retries + 1
        raise FetchError(url, f"{last} (after {tries} attempts)", network=refused)

    _retry_after: str | None = None

    def _once(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with self._opener.open(request, timeout=self.fetch.fetch_timeout_s) as response:
            body = response.read()
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and len(body) != int(length):
                raise http.client.IncompleteRead(body, int(length) - len(body))
            return body


def _network_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(reason, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "connection dropped by the server"
    if isinstance(reason, http.client.IncompleteRead):
        return "connection dropped mid-answer"
    if isinstance(reason, OSError) and reason.errno == 101:
        return "network unreachable"
    return f"{type(reason).__name__}: {reason}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees half a file: a temporary file in
    the same folder, fsynced, then renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, label: str, enabled: bool | None = None):
        self.total, self.label, self.done = max(total, 1), label, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled:
            filled = int(30 * min(self.done, self.total) / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
