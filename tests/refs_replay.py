"""A loopback HTTP server for `bala refs --online` tests: ECitMatch, esearch (title), esummary
and Crossref /works answered from the constructed files in tests/fixtures/online/ (see its
README: written to the documented formats, not recorded). Every request is logged with its
arrival time; `script[path]` holds misbehaviours to play first ("429", "503", "drop")."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).parent / "fixtures" / "online"


def _load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class RefsReplay:
    def __init__(self):
        self.citmatch = _load("ecitmatch.json")
        self.titles = _load("esearch-title.json")
        self.summary = _load("esummary.json")
        self.crossref = (FIXTURES / "crossref-works.json").read_bytes()
        self.log: list[tuple[float, str, dict]] = []
        self.script: dict[str, list[str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RefsReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def requests_to(self, path: str) -> list[tuple[float, str, dict]]:
        return [r for r in self.log if r[1] == path]

    def ecitmatch(self, bdata: str) -> bytes:
        out = []
        for line in bdata.split("\r"):
            fields = line.split("|")
            pmid = self.citmatch.get("|".join(fields[:4]), "NOT_FOUND")
            out.append(line + pmid)
        return ("\n".join(out) + "\n").encode()

    def esearch(self, term: str) -> bytes:
        idlist = self.titles.get(term, [])
        result = {"count": str(len(idlist)), "retmax": str(len(idlist)), "retstart": "0"}
        result |= {"idlist": idlist, "translationset": [], "querytranslation": term}
        return json.dumps({"header": {"type": "esearch"}, "esearchresult": result}).encode()

    def esummary(self, ids: list[str]) -> bytes:
        result = self.summary["result"]
        uids = [i for i in ids if i in result]
        body = {"header": self.summary["header"], "result": {"uids": uids}}
        body["result"] |= {i: result[i] for i in uids}
        return json.dumps(body).encode()

    def works(self, query: str) -> bytes:
        if "Mechanisms of resistance" in query:
            return self.crossref
        empty = {"status": "ok", "message-type": "work-list", "message": {"items": []}}
        return json.dumps(empty).encode()

    def _answer(self, path: str, q: dict) -> tuple[int, bytes]:
        if path == "/eutils/ecitmatch.cgi":
            return 200, self.ecitmatch(q["bdata"][0])
        if path == "/eutils/esearch.fcgi":
            return 200, self.esearch(q["term"][0])
        if path == "/eutils/esummary.fcgi":
            return 200, self.esummary(q["id"][0].split(","))
        if path == "/crossref/works":
            return 200, self.works(q["query.bibliographic"][0])
        return 404, b"not found"

    def _handler(self):
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
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
                status, body = replay._answer(url.path, query)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
