"""`bala fetch PMID|DOI|PMCID…`: download MEDLINE XML (and PMC open-access JATS where the
licence allows) into the library folder, then ingest those files like any others.

Resumable: a file already in the library is never fetched or rewritten again, and what the
ID converter said is remembered in `ids.json`, so a second run of the same ids sends no
request. A request that fails for good names the ids it was for; when the network itself is
down the run stops asking and names every id not fetched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from core.types import IngestReport
from ingest import fetch as ncbi
from ingest.download import FetchError, HttpClient, Progress, write_atomic

IDMAP = "ids.json"


@dataclass
class FetchReport:
    """What one `bala fetch` did, id by id."""

    requested: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)  # files written by this run
    present: list[str] = field(default_factory=list)  # already in the library: not refetched
    not_fetched: list[tuple[str, str]] = field(default_factory=list)  # (id as given, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (id, e.g. no OA full text)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be fetched
    requests: int = 0
    library: str = ""
    ingest: IngestReport | None = None


@dataclass
class _Run:
    settings: Settings
    client: HttpClient
    library: Path
    ids: dict[str, dict]  # normalized id -> {pmid, pmcid, doi, converted, oa}
    report: FetchReport
    progress: Progress | None = None
    aborted: str = ""  # the network reason once the server cannot be reached
    changed: bool = False

    def entry(self, wanted: ncbi.WantedId) -> dict:
        found = self.ids.setdefault(wanted.value, {})
        if wanted.kind != "doi" and not found.get(wanted.kind):
            found[wanted.kind] = wanted.value
        if wanted.kind == "doi" and not found.get("doi"):
            found["doi"] = wanted.value
        return found

    def get(self, url: str, ids: list[str]) -> bytes | None:
        """The body, or None after recording every id of the request as not fetched."""
        if self.aborted:
            self.report.not_fetched += [(i, f"not attempted: {self.aborted}") for i in ids]
            return None
        try:
            return self.client.get(url)
        except FetchError as exc:
            if exc.network:
                self.aborted = f"network failure ({exc.reason})"
            self.report.not_fetched += [(i, exc.reason) for i in ids]
            return None
        finally:
            self.report.requests = self.client.requests


def fetch_ids(
    raw_ids: list[str],
    settings: Settings,
    dry_run: bool = False,
    progress: bool = False,
    client: HttpClient | None = None,
    ingest: bool = True,
) -> FetchReport:
    """Fetch those ids, then ingest their files (unless `ingest` is False); ValueError
    (naming the id) for one that is no id."""
    wanted = list({w.value: w for w in map(ncbi.classify_id, raw_ids)}.values())
    library = settings.library_dir
    report = FetchReport(requested=[w.raw for w in wanted], library=str(library))
    run = _Run(settings, client or HttpClient(settings.fetch), library, _load_ids(library), report)
    if dry_run:
        report.planned = [_plan_line(run, w) for w in wanted]
        return report
    todo = [w for w in wanted if not _complete(run, w)]
    run.progress = Progress(len(todo), "fetching", enabled=progress and bool(todo))
    try:
        _resolve(run, todo)
        _fetch_medline(run, todo)
        if settings.fetch.fetch_full_text:
            _fetch_jats(run, todo)
    finally:
        run.progress.close()
        if run.changed:
            write_atomic(library / IDMAP, json.dumps(run.ids, indent=1, sort_keys=True).encode())
    files = _library_files(run, wanted)
    report.present = [f for f in files if f not in report.downloaded]
    if files and ingest:
        from index.build import ingest_paths

        report.ingest = ingest_paths([Path(f) for f in files], settings, progress=progress)
    return report


def _load_ids(library: Path) -> dict[str, dict]:
    path = library / IDMAP
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # a damaged cache only costs requests: it is rebuilt
    return data if isinstance(data, dict) else {}


def _wants_conversion(run: _Run, wanted: ncbi.WantedId) -> bool:
    entry = run.entry(wanted)
    if entry.get("converted"):
        return False
    return wanted.kind != "pmid" or run.settings.fetch.fetch_full_text


def _complete(run: _Run, wanted: ncbi.WantedId) -> bool:
    """Everything this id can give is in the library already (nothing to ask)."""
    entry = run.entry(wanted)
    if _wants_conversion(run, wanted):
        return False
    pmid, pmcid = entry.get("pmid"), entry.get("pmcid")
    if pmid and not ncbi.medline_path(run.library, pmid).is_file():
        return False
    if run.settings.fetch.fetch_full_text and pmcid and "oa" not in entry:
        return False
    if pmcid and entry.get("oa", "").startswith("ok") and not _jats_present(run, pmcid):
        return False
    return bool(pmid or pmcid)


def _jats_present(run: _Run, pmcid: str) -> bool:
    return ncbi.jats_path(run.library, pmcid).is_file()


def _plan_line(run: _Run, wanted: ncbi.WantedId) -> str:
    if _complete(run, wanted):
        return f"{wanted.raw}: already in the library"
    entry = run.entry(wanted)
    steps = []
    if _wants_conversion(run, wanted):
        steps.append(
            "resolve ids (PMC ID converter" + (", esearch)" if wanted.kind == "doi" else ")")
        )
    if entry.get("pmid"):
        steps.append(f"fetch MEDLINE XML for PMID {entry['pmid']}")
    elif wanted.kind != "pmcid":
        steps.append("fetch MEDLINE XML once the PMID is known")
    if run.settings.fetch.fetch_full_text:
        steps.append("fetch PMC open-access JATS if the licence allows")
    return f"{wanted.raw}: would " + "; ".join(steps)


def _resolve(run: _Run, todo: list[ncbi.WantedId]) -> None:
    """PMID/PMCID/DOI of each id from the ID converter, then esearch for DOIs outside PMC."""
    convert = [w for w in todo if _wants_conversion(run, w)]
    size = run.settings.fetch.fetch_batch
    for chunk in ncbi.batches([w.value for w in convert], size):
        body = run.get(ncbi.idconv_url(run.settings.fetch, chunk), _raw_of(convert, chunk))
        if body is None:
            continue
        try:
            found = ncbi.parse_idconv(body)
        except ValueError as exc:
            run.report.not_fetched += [(r, f"ID converter: {exc}") for r in _raw_of(convert, chunk)]
            continue
        for value in chunk:
            entry = run.ids[value]
            entry.update({k: v for k, v in found.get(value, {}).items() if v})
            entry["converted"] = True
            run.changed = True
    for wanted in convert:
        entry = run.entry(wanted)
        if wanted.kind == "doi" and entry.get("converted") and not entry.get("pmid"):
            _esearch_doi(run, wanted, entry)


def _esearch_doi(run: _Run, wanted: ncbi.WantedId, entry: dict) -> None:
    body = run.get(ncbi.esearch_doi_url(run.settings.fetch, wanted.value), [wanted.raw])
    if body is None:
        entry.pop("converted", None)  # ask again next time
        return
    try:
        pmids = ncbi.parse_esearch(body)
    except ValueError as exc:
        run.report.not_fetched.append((wanted.raw, str(exc)))
        return
    if len(pmids) == 1:
        entry["pmid"] = pmids[0]
        run.changed = True


def _raw_of(wanted: list[ncbi.WantedId], values: list[str]) -> list[str]:
    chosen = set(values)
    return [w.raw for w in wanted if w.value in chosen]


def _fetch_medline(run: _Run, todo: list[ncbi.WantedId]) -> None:
    """efetch db=pubmed in batches; one file per PMID, written atomically."""
    by_pmid: dict[str, list[str]] = {}
    for wanted in todo:
        entry = run.entry(wanted)
        pmid = entry.get("pmid")
        if pmid and not ncbi.medline_path(run.library, pmid).is_file():
            by_pmid.setdefault(pmid, []).append(wanted.raw)
        elif not pmid and not entry.get("pmcid") and entry.get("converted"):
            run.report.not_fetched.append((wanted.raw, "not found in PubMed or PMC"))
    for chunk in ncbi.batches(list(by_pmid), run.settings.fetch.fetch_batch):
        raws = [r for p in chunk for r in by_pmid[p]]
        body = run.get(ncbi.efetch_pubmed_url(run.settings.fetch, chunk), raws)
        if body is None:
            continue
        try:
            records = ncbi.split_pubmed_set(body)
        except (ValueError, SyntaxError) as exc:
            run.report.not_fetched += [(r, f"unreadable efetch answer: {exc}") for r in raws]
            continue
        for pmid in chunk:
            if pmid not in records:
                run.report.not_fetched += [
                    (r, f"PubMed has no record {pmid}") for r in by_pmid[pmid]
                ]
                continue
            path = ncbi.medline_path(run.library, pmid)
            write_atomic(path, records[pmid])
            run.report.downloaded.append(str(path))
            run.progress.advance()


def _fetch_jats(run: _Run, todo: list[ncbi.WantedId]) -> None:
    """PMC JATS for each id with a PMCID whose open-access licence allows it."""
    for wanted in todo:
        entry = run.entry(wanted)
        pmcid = entry.get("pmcid")
        if not pmcid or _jats_present(run, pmcid) or entry.get("oa", "").startswith("no"):
            continue
        if not entry.get("oa"):
            body = run.get(ncbi.oa_url(run.settings.fetch, pmcid), [wanted.raw])
            if body is None:
                continue
            try:
                access = ncbi.parse_oa(body, pmcid)
            except SyntaxError as exc:
                run.report.not_fetched.append((wanted.raw, f"unreadable OA answer: {exc}"))
                continue
            entry["oa"] = f"ok: {access.licence}" if access.allowed else f"no: {access.reason}"
            run.changed = True
            if not access.allowed:
                run.report.notes.append((wanted.raw, f"no PMC full text ({access.reason})"))
                continue
        body = run.get(ncbi.efetch_pmc_url(run.settings.fetch, pmcid), [wanted.raw])
        if body is None:
            continue
        try:
            article = ncbi.jats_article(body)
        except ValueError as exc:
            run.report.notes.append((wanted.raw, f"no PMC full text ({exc})"))
            continue
        path = ncbi.jats_path(run.library, pmcid)
        write_atomic(path, article)
        run.report.downloaded.append(str(path))
        if not entry.get("pmid"):
            run.progress.advance()


def _library_files(run: _Run, wanted: list[ncbi.WantedId]) -> list[str]:
    files = []
    for w in wanted:
        entry = run.entry(w)
        if entry.get("pmid"):
            files.append(ncbi.medline_path(run.library, entry["pmid"]))
        if entry.get("pmcid"):
            files.append(ncbi.jats_path(run.library, entry["pmcid"]))
    return list(dict.fromkeys(str(f) for f in files if f.is_file()))
