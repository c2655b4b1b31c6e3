"""A loopback HTTP server for `bala refs --online` tests: ECitMatch, esearch (title), esummary
and Crossref /works answered from the constructed files in tests/fixtures/online/ (see its
README: written to the documented formats, not recorded); the ID converter and esearch by
DOI answered as `bala fetch`'s replay does (tests/ncbi_replay.py). Every request is logged with its
arrival time; `script[path]` holds misbehaviours to play first ("429", "503", "drop")."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ncbi_replay import Replay as NcbiReplay
from tests.replay_server import ReplayServer

FIXTURES = Path(__file__).parent / "fixtures" / "online"


def _load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class RefsReplay(ReplayServer):
    def __init__(self):
        self.citmatch = _load("ecitmatch.json")
        self.titles = _load("esearch-title.json")
        self.summary = _load("esummary.json")
        self.crossref = (FIXTURES / "crossref-works.json").read_bytes()
        super().__init__()

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

    def _answer(self, path: str, q: dict) -> tuple[int, bytes, str]:
        if path == "/eutils/ecitmatch.cgi":
            return 200, self.ecitmatch(q["bdata"][0]), "text/plain"
        if path == "/eutils/esearch.fcgi" and q["term"][0].endswith("[doi]"):
            return 200, NcbiReplay.esearch(q["term"][0]), "application/json"
        if path == "/eutils/esearch.fcgi":
            return 200, self.esearch(q["term"][0]), "application/json"
        if path == "/idconv/":
            return 200, NcbiReplay.idconv(q["ids"][0].split(",")), "application/json"
        if path == "/eutils/esummary.fcgi":
            return 200, self.esummary(q["id"][0].split(",")), "application/json"
        if path == "/crossref/works":
            return 200, self.works(q["query.bibliographic"][0]), "application/json"
        return 404, b"not found", "text/plain"
