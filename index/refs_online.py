"""`bala refs --online`: references the library does not hold, looked up at NCBI.

- A reference that prints a DOI but no PMID: the DOI goes to the NCBI ID converter (as in
  `bala fetch`), else to esearch `<doi>[doi]` when the article is outside PMC; a printed
  DOI is an identifier, so the PMID found for it is taken as is (method `doi`).
- A reference that prints neither: ECitMatch on journal/year/volume/first page/first author,
  else esearch on the title, and, with Crossref enabled, Crossref (for a DOI).

Never a guess: every candidate is verified against what the service says of it (esummary's
title, authors and year for a PMID; the work's own metadata for a Crossref DOI), scored with
the library matcher's `pair_score` (index/resolve.py), and accepted only at or above the same
measured THRESHOLD and ahead of the next candidate by MARGIN. An accepted id is reported
("not in library: PMID ...") and fed to `--missing-as pmids`; nothing is added to the library.
All NCBI requests go through `bala fetch`'s one client (NCBI's rate limit, retries on
429/5xx/drops); Crossref's requests through a client of their own, paced by
`fetch.crossref_rate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.ids import normalize_doi
from core.settings import Settings
from core.types import Reference, Source
from index.resolve import MARGIN, THRESHOLD, Library, pair_score
from ingest import citmatch
from ingest import fetch as ncbi
from ingest.download import FetchError, HttpClient
from ingest.fetch import batches


@dataclass(frozen=True)
class OnlineMatch:
    """What the lookup of one reference gave: an accepted id, or the best rejected one."""

    n: int
    method: str  # doi | ecitmatch | esearch | crossref
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
    said += f"; the NCBI ID converter at {fetch.idconv_url}"
    return said + (f"; Crossref /works at {fetch.crossref_url}" if crossref else "")


def needs_lookup(ref: Reference) -> bool:
    """Neither PMID nor DOI printed: found by its citation or title, never by an id."""
    return not ref.pmid and not ref.doi


def needs_pmid(ref: Reference) -> bool:
    """A printed DOI without a PMID: the DOI is converted."""
    return bool(ref.doi) and not ref.pmid


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
        self.crossref_client = HttpClient(
            settings.fetch, interval=citmatch.crossref_interval(settings.fetch)
        )
        self.summaries: dict[str, Source] = {}  # PMID -> esummary's record, asked once

    def get(self, url: str, numbers: list[int], what: str) -> bytes | None:
        if self.report.aborted:
            self.report.failed += [(n, f"not attempted: {self.report.aborted}") for n in numbers]
            return None
        client = self.crossref_client if what == "Crossref" else self.client
        try:
            return client.get(url)
        except FetchError as exc:
            if exc.network:
                self.report.aborted = f"network failure ({exc.reason})"
            self.report.failed += [(n, f"{what}: {exc.reason}") for n in numbers]
            return None
        finally:
            self.report.requests = self.client.requests + self.crossref_client.requests

    def doi_pmids(self, refs: list[Reference]) -> dict[int, str]:
        """Reference n -> the PMID of its printed DOI: the ID converter in batches, then
        esearch `<doi>[doi]` for DOIs it does not know (one PMID exactly, else none)."""
        by_doi: dict[str, list[int]] = {}
        for ref in refs:
            by_doi.setdefault(normalize_doi(ref.doi), []).append(ref.n)
        pmids: dict[str, str] = {}
        for chunk in batches(list(by_doi), self.fetch.fetch_batch):
            numbers = [n for doi in chunk for n in by_doi[doi]]
            body = self.get(ncbi.idconv_url(self.fetch, chunk), numbers, "ID converter")
            try:
                found = ncbi.parse_idconv(body) if body is not None else {}
            except ValueError as exc:
                self.report.failed += [(n, f"ID converter: {exc}") for n in numbers]
                continue
            pmids.update(
                {doi: found[doi]["pmid"] for doi in chunk if found.get(doi, {}).get("pmid")}
            )
        for doi in by_doi:
            if doi not in pmids:
                body = self.get(ncbi.esearch_doi_url(self.fetch, doi), by_doi[doi], "esearch")
                ids = self._esearch_ids(body, by_doi[doi]) if body is not None else []
                if len(ids) == 1:
                    pmids[doi] = ids[0]
        return {n: pmids[doi] for doi, numbers in by_doi.items() if doi in pmids for n in numbers}

    def _esearch_ids(self, body: bytes, numbers: list[int]) -> list[str]:
        try:
            return ncbi.parse_esearch(body)
        except ValueError as exc:
            self.report.failed += [(n, f"esearch: {exc}") for n in numbers]
            return []

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
        return self._esearch_ids(body, [ref.n])[: citmatch.TITLE_CANDIDATES]

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
    """Look up the references that print no PMID; see the module docstring. First the
    printed DOIs' PMIDs; then, for entries that print neither, round 1: ECitMatch, and title
    esearch for the entries it cannot match; round 2: title esearch for entries whose
    ECitMatch candidate was rejected; then Crossref, when asked."""
    report = OnlineReport()
    run = _Lookup(settings, client or HttpClient(settings.fetch), report)
    with_doi = [r for r in refs if needs_pmid(r)]
    for n, pmid in run.doi_pmids(with_doi).items():
        doi = normalize_doi(next(r.doi for r in with_doi if r.n == n))
        report.matches[n] = OnlineMatch(n, "doi", pmid, doi, 1.0, "", True)
    todo = [r for r in refs if needs_lookup(r)]
    found = run.ecitmatch(todo)
    methods = {n: "ecitmatch" for n in found}
    for ref in todo:
        if ref.n not in found and citmatch.title_query(ref):
            found[ref.n], methods[ref.n] = run.esearch(ref), "esearch"
    _verify_candidates(run, todo, found, methods)
    again = [
        r
        for r in todo
        if methods.get(r.n) == "ecitmatch"
        and not _accepted(report, r.n)
        and citmatch.title_query(r)
    ]
    found = {r.n: run.esearch(r) for r in again}
    _verify_candidates(run, again, found, dict.fromkeys(found, "esearch"))
    if crossref:
        for ref in todo:
            if not _accepted(report, ref.n):
                works = run.crossref(ref)
                if works:
                    match = choose(ref, [(verify(ref, w), w) for w in works], "crossref")
                    _keep_better(report, match)
    return report


def _accepted(report: OnlineReport, n: int) -> bool:
    return n in report.matches and report.matches[n].accepted


def _verify_candidates(
    run: _Lookup, refs: list[Reference], found: dict[int, list[str]], methods: dict[int, str]
) -> None:
    """esummary for the candidate PMIDs (once each per run), then score and choose."""
    wanted = [p for pmids in found.values() for p in pmids if p not in run.summaries]
    if wanted:
        asking = [n for n, pmids in found.items() if set(pmids) & set(wanted)]
        run.summaries.update(run.esummary(sorted(set(wanted)), asking))
    for ref in refs:
        pmids = [p for p in found.get(ref.n, []) if p in run.summaries]
        if pmids:
            scored = [(verify(ref, run.summaries[p]), run.summaries[p]) for p in pmids]
            _keep_better(run.report, choose(ref, scored, methods[ref.n]))


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


class OnlineLookup:
    """The `online` hook of `index.review_refs.load_review`: announces the services it will
    ask (`announce`, e.g. a print to stderr), looks the missing references up, and keeps the
    report for the output."""

    def __init__(self, settings: Settings, crossref: bool = False, announce=None, client=None):
        self.settings, self.crossref, self.announce, self.client = (
            settings,
            crossref,
            announce,
            client,
        )
        self.report: OnlineReport | None = None

    def __call__(self, missing: list[Reference]) -> tuple[Reference, ...]:
        if self.announce is not None:
            self.announce(f"asking {network_calls(self.settings, self.crossref)}")
        self.report = lookup_references(missing, self.settings, self.crossref, self.client)
        if self.announce is not None:
            self.announce(f"{self.report.requests} request(s) sent")
        return with_found_ids(tuple(missing), self.report)


def _keep_better(report: OnlineReport, match: OnlineMatch) -> None:
    old = report.matches.get(match.n)
    if old is None or match.accepted or (not old.accepted and match.score > old.score):
        report.matches[match.n] = match
