"""`bala enrich`: citation metadata for sources that lack it, from MEDLINE files, without
re-embedding; and the removal of sources that MEDLINE update files delete.

Metadata lives in the store's `sources` rows beside the text, so enriching touches nothing
else: the new build hard-links (or copies) the live build's vectors and BM25 files, copies
the store, updates the changed source rows in one transaction, and is published with the same
atomic switch of `current` as `bala ingest` (index/layout.py), under the writer lock.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from core.settings import Settings
from core.types import Source
from index import layout
from index.manifest import file_records, read_manifest, write_manifest
from index.store import Store
from index.store_rows import source_from_json, source_to_json
from ingest.errors import IngestError
from ingest.labels import label_source
from ingest.medline import MedlineRecord, iter_medline, record_source

# The fields `bala enrich` fills (a source "lacks metadata" when one of them is empty).
CITATION_FIELDS = ("title", "authors", "journal", "year")
FILLED_FIELDS = (*CITATION_FIELDS, "volume", "issue", "pages", "doi", "publication_types", "mesh")


def missing_fields(source: Source) -> list[str]:
    """Citation fields this source has no value for (what `bala status` reports)."""
    return [name for name in (*CITATION_FIELDS, "doi", "pmid") if not getattr(source, name)]


def source_pmid(source: Source) -> str:
    if source.pmid:
        return source.pmid
    return source.source_id[5:] if source.source_id.startswith("pmid:") else ""


def merge_metadata(source: Source, record: MedlineRecord) -> Source:
    """The source with every empty citation field filled from the record (never overwrites
    a value the source has; the source id stays, so its chunks and vectors stay valid)."""
    found = record_source(record)
    changes = {
        name: getattr(found, name)
        for name in FILLED_FIELDS
        if not getattr(source, name) and getattr(found, name)
    }
    if not source.pmid and record.pmid:
        changes["pmid"] = record.pmid
    if source.kind == "article" and found.kind == "review":
        changes["kind"] = "review"
    return replace(source, **changes) if changes else source


@dataclass
class EnrichReport:
    build_id: str = ""
    enriched: list[str] = field(default_factory=list)  # source ids given metadata
    relabeled: int = 0
    still_missing: list[str] = field(default_factory=list)  # source ids still without a title
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    records_read: int = 0
    # --online only: (source id, reason) for records not fetched, and the requests sent
    not_fetched: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    network_calls: str = ""  # which services were asked, for the report


def _wanted_records(paths, pmids: set[str], report: EnrichReport) -> dict[str, MedlineRecord]:
    """Records of those PMIDs from the MEDLINE files (streamed; others are not kept)."""
    found: dict[str, MedlineRecord] = {}
    for path in paths:
        try:
            for item in iter_medline(Path(path)):
                if isinstance(item, MedlineRecord):
                    report.records_read += 1
                    if item.pmid in pmids:
                        found[item.pmid] = item
        except IngestError as exc:
            report.failed.append((exc.path, exc.reason))
        except OSError as exc:
            report.failed.append((str(path), f"unreadable: {exc.strerror or exc}"))
    return found


def _updated_sources(store: Store, paths, report: EnrichReport) -> dict[str, Source]:
    """Source id -> new Source, for each source whose metadata or labels change."""
    sources = store.sources
    lacking = {
        sid: s for sid, s in sources.items() if any(not getattr(s, f) for f in FILLED_FIELDS)
    }
    records = _wanted_records(paths, {source_pmid(s) for s in lacking.values()} - {""}, report)
    updated = {}
    for sid, source in sources.items():
        record = records.get(source_pmid(source)) if sid in lacking else None
        new = merge_metadata(source, record) if record else source
        if new is not source or not source.labels_from:
            labeled = label_source(new, store.document(sid).text)
            if new is not source:
                report.enriched.append(sid)
            if labeled != source:
                report.relabeled += (labeled.design, labeled.population, labeled.diseases) != (
                    source.design,
                    source.population,
                    source.diseases,
                )
                updated[sid] = labeled
    return updated


def _link_or_copy(src: Path, dst: Path) -> None:
    if src.is_dir():
        dst.mkdir()
        for child in src.iterdir():
            _link_or_copy(child, dst / child.name)
        return
    try:
        os.link(src, dst)  # builds are never modified once published
    except OSError:
        shutil.copy2(src, dst)


def _write_sources(store_path: Path, updated: dict[str, Source]) -> None:
    db = sqlite3.connect(str(store_path))
    try:
        with db:
            db.executemany(
                "UPDATE sources SET meta = ? WHERE source_id = ?",
                [(source_to_json(s), sid) for sid, s in updated.items()],
            )
    finally:
        db.close()
    with open(store_path, "rb") as handle:
        os.fsync(handle.fileno())


def _publish_metadata(index_dir: Path, live: Path, updated: dict[str, Source], paths) -> str:
    """A new build = the live one with updated source rows; switched in atomically."""
    stamp = datetime.now(UTC)
    build_id = f"{stamp:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:6]}"
    final = layout.builds_dir(index_dir) / build_id
    partial = final.with_name(build_id + ".partial")
    partial.mkdir(parents=True)
    for child in live.iterdir():
        if child.name.startswith("."):  # a reader's hold on the live build, not build data
            continue
        if child.name == "store.sqlite":
            shutil.copyfile(child, partial / child.name)
        elif child.name != "manifest.json":
            _link_or_copy(child, partial / child.name)
    _write_sources(partial / "store.sqlite", updated)
    manifest = read_manifest(live / "manifest.json")
    enriched = {
        "from_build": manifest.build_id,
        "medline_files": [str(p) for p in paths],
        "sources_updated": len(updated),
    }
    manifest = replace(
        manifest,
        build_id=build_id,
        created_at=stamp.isoformat(timespec="seconds"),
        build_files=file_records(partial),
        extra={**manifest.extra, "enriched": enriched},
    )
    write_manifest(partial / "manifest.json", manifest)
    os.replace(partial, final)
    layout.switch_current(index_dir, final)
    return build_id


def enrich_index(settings: Settings, medline_paths: list[Path]) -> EnrichReport:
    """Fill missing citation metadata (and evidence labels) of the live build's sources from
    MEDLINE files; publishes a new build only when something changed. Nothing is embedded."""
    report = EnrichReport()
    index_dir = settings.index_dir
    with layout.writer_lock(index_dir):
        live = layout.require_current_build(index_dir)
        store = Store(live / "store.sqlite")
        try:
            updated = _updated_sources(store, medline_paths, report)
            final = {**store.sources, **updated}
        finally:
            store.close()
        report.still_missing = sorted(sid for sid, s in final.items() if not s.title)
        if updated:
            report.build_id = _publish_metadata(index_dir, live, updated, medline_paths)
            layout.prune_old_builds(index_dir)
        else:
            report.build_id = read_manifest(live / "manifest.json").build_id
    return report


def drop_deleted_pmids(contents, pmids: set[str], live_store: Path | None, report) -> None:
    """Remove from a planned build the sources of PMIDs deleted by MEDLINE update files
    (`<DeleteCitation>`); `contents` is index.build's _Contents, changed in place."""
    if not pmids:
        return
    gone = {d.source_id for d in contents.documents if source_pmid(d.source) in pmids}
    gone |= {f"pmid:{p}" for p in pmids} & set(contents.reused)
    if contents.reused and live_store is not None:
        store = Store(live_store)
        try:
            known = store.sources
            gone |= {s for s in contents.reused if s in known and source_pmid(known[s]) in pmids}
        finally:
            store.close()
    if not gone:
        return
    contents.reused = [s for s in contents.reused if s not in gone]
    contents.documents = [d for d in contents.documents if d.source_id not in gone]
    contents.files = {
        path: (sha, [s for s in ids if s not in gone])
        for path, (sha, ids) in contents.files.items()
    }
    report.removed.extend(sorted(gone))


def _live_sources(live_store: Path, source_ids: list[str]) -> dict[str, Source]:
    """The live store's rows of those source ids (one query over a temp table)."""
    db = sqlite3.connect(f"file:{live_store}?mode=ro", uri=True)
    try:
        db.execute("CREATE TEMP TABLE want_sources (id TEXT PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO want_sources VALUES (?)", [(s,) for s in source_ids])
        rows = db.execute(
            "SELECT source_id, meta FROM sources WHERE source_id IN (SELECT id FROM want_sources)"
        ).fetchall()
    finally:
        db.close()
    return {sid: source_from_json(meta) for sid, meta in rows}


def carry_metadata(documents: list, live_store: Path | None) -> list:
    """New versions of sources the live build holds keep the live citation fields they leave
    empty (so metadata from `bala enrich` survives a re-ingest of a changed file)."""
    if not documents or live_store is None:
        return documents
    live = _live_sources(live_store, [d.source_id for d in documents])
    out = []
    for doc in documents:
        old = live.get(doc.source_id)
        changes = {}
        if old is not None:
            changes = {
                name: getattr(old, name)
                for name in (*FILLED_FIELDS, "pmid")
                if not getattr(doc.source, name) and getattr(old, name)
            }
        if changes:
            doc = replace(doc, source=label_source(replace(doc.source, **changes), doc.text))
        out.append(doc)
    return out
