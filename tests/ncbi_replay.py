"""A loopback HTTP server that replays recorded NCBI answers for `bala fetch` tests.

Bodies: the real efetch answer `../shared/fixtures/pubmed/efetch-29768149.xml` (records of
other PMIDs the test declares are that record with its PMID replaced — derived, and said
so here; their DOI is replaced too), the real PMC article `../shared/fixtures/jats/pone.0046493.nxml` wrapped in
<pmc-articleset> as efetch db=pmc sends it, and ID converter / esearch / OA answers written
in the services' own formats for the ids of those two articles. Every request is logged with
its arrival time (tests/replay_server.py); `script[path]` holds misbehaviours to play first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.replay_server import ReplayServer

NEJM = {"pmid": "29768149", "doi": "10.1056/nejmoa1715274"}
PONE = {"pmid": "23029536", "pmcid": "PMC3460867", "doi": "10.1371/journal.pone.0046493"}


class Replay(ReplayServer):
    def __init__(self, efetch_xml: Path, jats_xml: Path, extra_pmids=()):
        self.efetch = efetch_xml.read_bytes()
        self.jats = jats_xml.read_bytes()
        self.pmids = {NEJM["pmid"], PONE["pmid"], *extra_pmids}
        super().__init__()

    # --- answers -----------------------------------------------------------------------
    def _record(self, pmid: str) -> bytes:
        start = self.efetch.index(b"<PubmedArticle>")
        end = self.efetch.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
        record = self.efetch[start:end]
        if pmid == NEJM["pmid"]:
            return record
        derived = f"10.5555/derived.{pmid}".encode()  # not the NEJM paper's DOI
        return record.replace(NEJM["pmid"].encode(), pmid.encode()).replace(
            b"10.1056/NEJMoa1715274", derived
        )

    def efetch_pubmed(self, ids: list[str]) -> bytes:
        head = self.efetch[: self.efetch.index(b"<PubmedArticleSet>")]
        records = b"\n".join(self._record(i) for i in ids if i in self.pmids)
        return head + b"<PubmedArticleSet>\n" + records + b"\n</PubmedArticleSet>\n"

    def efetch_pmc(self, ids: list[str]) -> bytes:
        article = re.sub(rb"<!DOCTYPE[^>]*>\s*", b"", self.jats)
        found = article if ids == [PONE["pmcid"].removeprefix("PMC")] else b""
        head = b'<?xml version="1.0" ?>\n<!DOCTYPE pmc-articleset PUBLIC "-//NLM//DTD ARTICLE SET 2.0//EN" "https://dtd.nlm.nih.gov/ncbi/pmc/articleset/nlm-articleset-2.0.dtd">\n'
        return head + b"<pmc-articleset>" + found + b"</pmc-articleset>\n"

    @staticmethod
    def idconv(ids: list[str]) -> bytes:
        records = []
        for raw in ids:
            key = raw.lower()
            known = next((a for a in (NEJM, PONE) if key in {v.lower() for v in a.values()}), None)
            if known is PONE:
                records.append({**PONE, "pmid": int(PONE["pmid"]), "requested-id": raw})
            else:
                records.append(
                    {
                        "requested-id": raw,
                        "status": "error",
                        "errmsg": "Identifier not found in PMC",
                    }
                )
        body = {
            "status": "ok",
            "responseDate": "2026-12-01 21:00:00",
            "request": f"ids={','.join(ids)};format=json",
            "records": records,
        }
        return json.dumps(body, indent=1).encode()

    @staticmethod
    def esearch(term: str) -> bytes:
        doi = term.removesuffix("[doi]").lower()
        idlist = [NEJM["pmid"]] if doi == NEJM["doi"] else []
        result = {
            "count": str(len(idlist)),
            "retmax": str(len(idlist)),
            "retstart": "0",
            "idlist": idlist,
            "translationset": [],
            "querytranslation": f'"{doi}"[DOI]',
        }
        return json.dumps(
            {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}
        ).encode()

    @staticmethod
    def oa(pmcid: str) -> bytes:
        head = f'<?xml version="1.0" encoding="UTF-8"?>\n<OA><responseDate>2026-12-01 21:00:00</responseDate><request id="{pmcid}">https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi?id={pmcid}</request>'
        if pmcid == PONE["pmcid"]:
            body = (
                '<records returned-count="1" total-count="1"><record id="PMC3460867" '
                'citation="PLoS One. 2012 Sep 27; 7(9):e46493" license="CC BY" retracted="no">'
                '<link format="tgz" updated="2012-10-04 09:26:54" href="ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/a5/8c/PMC3460867.tar.gz" />'
                "</record></records>"
            )
        else:
            body = (
                f"<error code=\"idIsNotOpenAccess\">identifier '{pmcid}' is not Open Access</error>"
            )
        return (head + body + "</OA>\n").encode()

    # --- HTTP --------------------------------------------------------------------------
    def _answer(self, path: str, query: dict) -> tuple[int, bytes, str]:
        ids = query.get("ids", query.get("id", [""]))[0].split(",")
        if path == "/eutils/efetch.fcgi" and query.get("db") == ["pubmed"]:
            return 200, self.efetch_pubmed(ids), "text/xml"
        if path == "/eutils/efetch.fcgi" and query.get("db") == ["pmc"]:
            return 200, self.efetch_pmc(ids), "text/xml"
        if path == "/eutils/esearch.fcgi":
            return 200, self.esearch(query["term"][0]), "application/json"
        if path == "/idconv/":
            return 200, self.idconv(ids), "application/json"
        if path == "/oa":
            return 200, self.oa(query["id"][0]), "text/xml"
        return 404, b"not found", "text/plain"
