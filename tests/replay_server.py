"""The loopback HTTP server under the replay fixtures (`ncbi_replay`, `refs_replay`): started
on a free port, every request logged with its arrival time, and `script[path]` holding
misbehaviours to play first ("429", "503", "drop"). Subclasses answer with `_answer`."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class ReplayServer:
    def __init__(self):
        self.log: list[tuple[float, str, dict]] = []
        self.script: dict[str, list[str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def requests_to(self, path: str) -> list[tuple[float, str, dict]]:
        return [r for r in self.log if r[1] == path]

    def _answer(self, path: str, query: dict) -> tuple[int, bytes, str]:
        """(status, body, content type) for one request."""
        raise NotImplementedError

    def _handler(self):
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = parse_qs(url.query)
                replay.log.append((time.monotonic(), url.path, query))
                pending = replay.script.get(url.path) or []
                act = pending.pop(0) if pending else ""
                if act == "drop":
                    self.close_connection = True
                    return
                if act in ("429", "503"):
                    self.send_response(int(act))
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, body, kind = replay._answer(url.path, query)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
