"""`bala enrich --online`: the MEDLINE records of sources that lack title, journal or year
are fetched from E-utilities (through `bala fetch`'s client and library folder: rate limit,
retries, batches of <= 200, DOIs -> PMID by the ID converter), then applied exactly as
`bala enrich --from` applies files (index/enrich.py). A source whose record could not be
fetched is named with the reason and left as it was.
"""

from __future__ import annotations

from core.settings import Settings
from core.types import Source
from index import layout
from index.enrich import EnrichReport, enrich_index, source_pmid
from index.fetch import fetch_ids
from index.store import Store
from ingest import fetch as ncbi
from ingest.download import HttpClient

WANTED_FIELDS = ("title", "journal", "year")


def lookup_id(source: Source) -> str:
    """The id to fetch a source's record by: its PMID, else its DOI ('' for neither)."""
    pmid = source_pmid(source)
    if pmid:
        return pmid
    if source.doi:
        return source.doi
    return source.source_id[4:] if source.source_id.startswith("doi:") else ""


def sources_to_fetch(sources: dict[str, Source]) -> dict[str, list[str]]:
    """Id to fetch -> the source ids it fills, for sources lacking title, journal or year."""
    wanted: dict[str, list[str]] = {}
    for sid, source in sorted(sources.items()):
        if all(getattr(source, f) for f in WANTED_FIELDS):
            continue
        ident = lookup_id(source)
        try:
            key = ncbi.classify_id(ident).value if ident else ""
        except ValueError:
            key = ""
        if key:
            wanted.setdefault(key, []).append(sid)
    return wanted


def _live_sources(settings: Settings) -> dict[str, Source]:
    live = layout.require_current_build(settings.index_dir)
    store = Store(live / "store.sqlite")
    try:
        return dict(store.sources)
    finally:
        store.close()


def network_calls(settings: Settings) -> str:
    """The services `enrich --online` asks (said on every run)."""
    fetch = settings.fetch
    return (
        f"E-utilities efetch (db=pubmed) at {fetch.eutils_url}, "
        f"and the PMC ID converter at {fetch.idconv_url} for sources known by DOI only"
    )


def enrich_online(
    settings: Settings, client: HttpClient | None = None, progress: bool = False
) -> EnrichReport:
    """Fetch the missing MEDLINE records into the library folder, then enrich from them."""
    wanted = sources_to_fetch(_live_sources(settings))
    medline_only = settings.replace(fetch={"fetch_full_text": False})
    fetched = fetch_ids(list(wanted), medline_only, progress=progress, client=client, ingest=False)
    files = [f for f in (*fetched.downloaded, *fetched.present) if f.endswith(".xml")]
    report = enrich_index(settings, sorted(set(files))) if files else _unchanged(settings)
    report.requests = fetched.requests
    report.network_calls = network_calls(settings)
    for raw, reason in fetched.not_fetched:
        key = ncbi.classify_id(raw).value
        report.not_fetched += [(sid, f"{raw}: {reason}") for sid in wanted.get(key, [raw])]
    return report


def _unchanged(settings: Settings) -> EnrichReport:
    from index.manifest import read_manifest

    live = layout.require_current_build(settings.index_dir)
    sources = _live_sources(settings)
    return EnrichReport(
        build_id=read_manifest(live / "manifest.json").build_id,
        still_missing=sorted(sid for sid, s in sources.items() if not s.title),
    )
