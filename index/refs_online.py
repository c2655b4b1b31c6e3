"""`bala refs --online`: references the library does not hold, and that print neither PMID
nor DOI, looked up at NCBI (ECitMatch on journal/year/volume/first page/first author, else
esearch on the title) and, with Crossref enabled, at Crossref (for a DOI).

Never a guess: every candidate is verified against what the service says of it (esummary's
title, authors and year for a PMID; the work's own metadata for a Crossref DOI), scored with
the library matcher's `pair_score` (index/resolve.py), and accepted only at or above the same
measured THRESHOLD and ahead of the next candidate by MARGIN. An accepted id is reported
("not in library: PMID ...") and fed to `--missing-as pmids`; nothing is added to the library.
All requests go through `bala fetch`'s one client (rate limit, retries on 429/5xx/drops).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings import Settings
from core.types import Reference, Source
from index.resolve import MARGIN, THRESHOLD, Library, pair_score
from ingest import citmatch
from ingest.download import FetchError, HttpClient
from ingest.fetch import batches


@dataclass(frozen=True)
class OnlineMatch:
    """What the lookup of one reference gave: an accepted id, or the best rejected one."""

    n: int
    method: str  # ecitmatch | esearch | crossref
    pmid: str = ""
    doi: str = ""
    score: float = 0.0
    title: str = ""  # the candidate's own title, as the service gives it
    accepted: bool = False


@dataclass
class OnlineReport:
    matches: dict[int, OnlineMatch] = field(default_factory=dict)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (reference n, reason)
    requests: int = 0
    aborted: str = ""


def network_calls(settings: Settings, crossref: bool) -> str:
    fetch = settings.fetch
    said = f"NCBI E-utilities ecitmatch, esearch and esummary at {fetch.eutils_url}"
    return said + (f"; Crossref /works at {fetch.crossref_url}" if crossref else "")


def needs_lookup(ref: Reference) -> bool:
    return not ref.pmid and not ref.doi


def verify(ref: Reference, candidate: Source) -> float:
    """The library matcher's score of the candidate's own metadata against the entry."""
    entries = Library([candidate]).entries
    return pair_score(ref, entries[0]) if entries else 0.0


def choose(ref: Reference, scored: list[tuple[float, Source]], method: str) -> OnlineMatch:
    """Accept the best candidate at or above THRESHOLD that beats the runner-up by MARGIN."""
    if not scored:
        return OnlineMatch(ref.n, method)
    scored = sorted(scored, key=lambda item: -item[0])
    best, source = scored[0]
    second = scored[1][0] if len(scored) > 1 else 0.0
    ok = best >= THRESHOLD and best - second >= MARGIN
    return OnlineMatch(ref.n, method, source.pmid, source.doi, best, source.title, ok)


class _Lookup:
    def __init__(self, settings: Settings, client: HttpClient, report: OnlineReport):
        self.fetch, self.client, self.report = settings.fetch, client, report

    def get(self, url: str, numbers: list[int], what: str) -> bytes | None:
        if self.report.aborted:
            self.report.failed += [(n, f"not attempted: {self.report.aborted}") for n in numbers]
            return None
        try:
            return self.client.get(url)
        except FetchError as exc:
            if exc.network:
                self.report.aborted = f"network failure ({exc.reason})"
            self.report.failed += [(n, f"{what}: {exc.reason}") for n in numbers]
            return None
        finally:
            self.report.requests = self.client.requests

    def ecitmatch(self, refs: list[Reference]) -> dict[int, list[str]]:
        lines = {r.n: citmatch.citmatch_line(r) for r in refs}
        eligible = [n for n, line in lines.items() if line]
        found: dict[int, list[str]] = {}
        for chunk in batches(eligible, citmatch.ECITMATCH_BATCH):
            url = citmatch.ecitmatch_url(self.fetch, [lines[n] for n in chunk])
            body = self.get(url, chunk, "ECitMatch")
            if body is not None:
                found.update({n: [p] for n, p in citmatch.parse_ecitmatch(body).items()})
        return found

    def esearch(self, ref: Reference) -> list[str]:
        term = citmatch.title_query(ref)
        body = self.get(citmatch.esearch_title_url(self.fetch, term), [ref.n], "esearch")
        if body is None:
            return []
        from ingest.fetch import parse_esearch

        try:
            return parse_esearch(body)[: citmatch.TITLE_CANDIDATES]
        except ValueError as exc:
            self.report.failed.append((ref.n, f"esearch: {exc}"))
            return []

    def esummary(self, pmids: list[str], numbers: list[int]) -> dict[str, Source]:
        found: dict[str, Source] = {}
        for chunk in batches(pmids, 200):
            body = self.get(citmatch.esummary_url(self.fetch, chunk), numbers, "esummary")
            if body is None:
                continue
            try:
                found.update(citmatch.parse_esummary(body))
            except ValueError as exc:
                self.report.failed += [(n, f"esummary: {exc}") for n in numbers]
        return found

    def crossref(self, ref: Reference) -> list[Source]:
        body = self.get(citmatch.crossref_url(self.fetch, ref), [ref.n], "Crossref")
        if body is None:
            return []
        try:
            return citmatch.parse_crossref(body)
        except ValueError as exc:
            self.report.failed.append((ref.n, f"Crossref: {exc}"))
            return []


def lookup_references(
    refs: list[Reference],
    settings: Settings,
    crossref: bool = False,
    client: HttpClient | None = None,
) -> OnlineReport:
    """Look up the references that print no PMID/DOI; see the module docstring."""
    report = OnlineReport()
    run = _Lookup(settings, client or HttpClient(settings.fetch), report)
    todo = [r for r in refs if needs_lookup(r)]
    candidates = run.ecitmatch(todo)
    methods = {n: "ecitmatch" for n in candidates}
    for ref in todo:
        if ref.n not in candidates and citmatch.title_query(ref):
            candidates[ref.n] = run.esearch(ref)
            methods[ref.n] = "esearch"
    wanted = sorted({p for pmids in candidates.values() for p in pmids})
    asking = [n for n, pmids in candidates.items() if pmids]
    summaries = run.esummary(wanted, asking) if wanted else {}
    for ref in todo:
        pmids = [p for p in candidates.get(ref.n, []) if p in summaries]
        if pmids:
            scored = [(verify(ref, summaries[p]), summaries[p]) for p in pmids]
            report.matches[ref.n] = choose(ref, scored, methods[ref.n])
    if crossref:
        for ref in todo:
            if not (ref.n in report.matches and report.matches[ref.n].accepted):
                works = run.crossref(ref)
                if works:
                    match = choose(ref, [(verify(ref, w), w) for w in works], "crossref")
                    _keep_better(report, match)
    return report


def with_found_ids(refs: tuple[Reference, ...], report: OnlineReport) -> tuple[Reference, ...]:
    """The references with the accepted PMIDs/DOIs filled in (printed ones never change)."""
    from dataclasses import replace

    out = []
    for ref in refs:
        match = report.matches.get(ref.n)
        if match and match.accepted:
            ref = replace(ref, pmid=ref.pmid or match.pmid, doi=ref.doi or match.doi)
        out.append(ref)
    return tuple(out)


def _keep_better(report: OnlineReport, match: OnlineMatch) -> None:
    old = report.matches.get(match.n)
    if old is None or match.accepted or (not old.accepted and match.score > old.score):
        report.matches[match.n] = match
