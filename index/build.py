"""`bala ingest`: load inputs, reuse what is unchanged, embed the rest, publish a new build.

A build is written beside the live one and published by one atomic rename, so a crash at any
moment leaves the previous build intact and loadable.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.settings import Settings
from core.types import Chunk, Document, IngestReport
from index import layout, local_build
from index.enrich import carry_metadata, drop_deleted_pmids
from index.ingest_runner import LOCAL, NewRows, Runner, Writer
from index.inputs import discover, file_sha256
from index.local_build import WriteContext, write_streamed
from index.manifest import (
    IndexDamagedError,
    Manifest,
    check_sizes,
    read_manifest,
)
from index.plan import Contents, LiveBuild, Plan, orphaned_duplicates, source_ids, unique_contents
from index.store import Store
from ingest.chunking import chunk_document


def _previous(index_dir: Path, report: IngestReport) -> LiveBuild:
    """The build to add to: the live one, or when it is damaged the newest intact older one
    (said in a warning); empty when there is none yet. Documents are read only when needed."""
    build = layout.current_build(index_dir)
    if build is None:
        return LiveBuild()
    try:
        return _read_live(build)
    except IndexDamagedError as damage:
        for older in layout.finished_builds(index_dir):
            try:
                live = _read_live(older)
            except IndexDamagedError:
                continue
            report.warnings.append(
                (str(index_dir), f"the live build is damaged ({damage}); adding to {older.name}")
            )
            return live
        raise IndexDamagedError(
            f"{damage}; no intact build is left to add to: remove {index_dir} and ingest the "
            "whole library again"
        ) from damage


def _read_live(build: Path) -> LiveBuild:
    manifest = read_manifest(build / "manifest.json")
    check_sizes(build, manifest)
    try:
        store = Store(build / "store.sqlite")
        try:
            files = store.files()
        finally:
            store.close()
    except sqlite3.DatabaseError as exc:
        raise IndexDamagedError(f"{build / 'store.sqlite'}: unreadable ({exc})") from exc
    return LiveBuild(build, manifest, files, dict(manifest.duplicates))


def _load_changed(paths, settings, live, report, plan=None, runner: Runner = LOCAL) -> Plan:
    """Parse new or changed files (all of `paths` when a plan is given: files read again);
    keep the previous version of any file that now fails. The runner reads them."""
    forced = plan is not None
    if plan is None:
        plan = Plan(files={path: (sha, None) for path, (sha, _) in live.files.items()})
    todo: list[tuple[Path, str]] = []
    for path in paths:
        key = str(path)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            report.failed.append((key, f"unreadable: {exc.strerror or exc}"))
            continue
        if not forced and key in live.files and live.files[key][0] == sha:
            report.unchanged.append(key)
            continue
        if key in report.unchanged:
            report.unchanged.remove(key)
        todo.append((path, sha))
    loaded = runner.load_files(todo, settings.ingest) if todo else []
    for (path, sha), (result, reason) in zip(todo, loaded):
        key = str(path)
        if result is None:
            report.failed.append((key, reason))
            continue
        report.warnings.extend((key, w) for w in result.warnings)
        plan.deleted_pmids.update(result.deleted_pmids)
        plan.files[key] = (sha, list(result.documents))
        report.ok.append(key)
        plan.changed = True
    return plan


def _prune(plan: Plan, live: LiveBuild, report: IngestReport) -> None:
    for key in [k for k in plan.files if not Path(k).exists()]:
        report.removed.extend(source_ids(plan.files.pop(key), live, key))
        plan.changed = True


def _read_all(plan: Plan, live: LiveBuild) -> None:
    """Replace reused entries with the live build's documents (a full rebuild re-chunks all)."""
    if live.store_path is None or all(docs is not None for _, docs in plan.files.values()):
        return
    store = Store(live.store_path)
    try:
        docs = {d.source_id: d for d in store.documents()}
    finally:
        store.close()
    for key, (sha, entry) in list(plan.files.items()):
        if entry is None:
            kept = [_with_references(docs[s]) for s in live.files[key][1] if s in docs]
            plan.files[key] = (sha, kept)


def _with_references(document: Document) -> Document:
    """A PDF document read back from an older build gains the reference list and citations
    that `ingest.loaders.load_pdf` now extracts (both are pure functions of stored text)."""
    if document.references or not document.source.path.lower().endswith(".pdf"):
        return document
    from ingest.references import with_references

    return with_references(document)


def _chunk_all(documents: list[Document], settings: Settings) -> list[Chunk]:
    size, overlap = settings.ingest.chunk_size, settings.ingest.chunk_overlap
    return [c for doc in documents for c in chunk_document(doc, size, overlap)]


def _settings_changed(manifest: Manifest | None, settings: Settings) -> bool:
    return manifest is not None and not manifest.same_recipe(settings)


def ingest_paths(
    paths: list[Path],
    settings: Settings,
    prune: bool = False,
    progress: bool = False,
    runner: Runner = LOCAL,
    writer: Writer | None = None,
) -> IngestReport:
    """Ingest files/folders into the index at `settings.index_dir` (incremental, atomic).

    `runner` reads and embeds (in this process by default, or on Ray); `writer` stores the
    result (the local build by default). With engine=milvus, Milvus is checked first and the
    live build then written and published there too (index/milvus_sync.py)."""
    if settings.index.engine != "milvus":
        return _ingest_local(paths, settings, prune, progress, runner, writer)
    from index.milvus_build import connect
    from index.milvus_sync import sync_live_build

    client = connect(settings.index.milvus_uri, settings.index.milvus_timeout_s)
    try:
        report = _ingest_local(paths, settings, prune, progress, runner, writer)
        if report.build_id:
            sync_live_build(settings, client)
        return report
    finally:
        client.close()


def _ingest_local(
    paths: list[Path],
    settings: Settings,
    prune: bool,
    progress: bool,
    runner: Runner,
    writer: Writer | None,
) -> IngestReport:
    report = IngestReport()
    index_dir = settings.index_dir
    with layout.writer_lock(index_dir):
        files, skipped, missing = discover(paths)
        report.skipped.extend(skipped)
        report.failed.extend(missing)
        live = _previous(index_dir, report)
        contents = _planned_contents(files, settings, live, report, prune, runner)
        if contents is None:  # nothing changed: the live build stays
            report.build_id = live.manifest.build_id
            return report
        if not contents.documents and not contents.reused and not live.manifest:
            return report  # nothing usable yet: no empty build
        context = WriteContext(index_dir, live, contents, settings, report)
        if writer is None:
            report.build_id, report.embedded_chunks = write_streamed(context, runner, progress)
        else:
            rows = embed_new_rows(contents, settings, context.cache_embed(runner), progress)
            report.build_id, report.embedded_chunks = writer(rows, context), rows.embedded
        report.changed = True
        layout.prune_old_builds(index_dir)
    return report


def _planned_contents(files, settings, live, report, prune, runner) -> Contents | None:
    """What the next build holds, or None when nothing changed. The plan, which holds every
    loaded document, is let go on return: the documents live on only in the contents, from
    which the local writer takes them block by block."""
    plan = _load_changed(files, settings, live, report, runner=runner)
    if prune:
        _prune(plan, live, report)
    settings_changed = _settings_changed(live.manifest, settings)
    if not plan.changed and not settings_changed and live.manifest:
        return None
    if settings_changed:
        _read_all(plan, live)  # chunker, model or schema changed: re-chunk everything
    contents = unique_contents(plan, live, report)
    orphaned = orphaned_duplicates(contents, plan, live)
    if orphaned:  # e.g. the file that provided them was pruned: read the others again
        _load_changed([Path(k) for k in orphaned], settings, live, report, plan, runner)
        report.duplicates.clear()
        contents = unique_contents(plan, live, report)
    drop_deleted_pmids(contents, plan.deleted_pmids, live.store_path, report)
    contents.documents = carry_metadata(contents.documents, live.store_path)
    report.removed = [sid for sid in report.removed if sid not in contents.held()]
    return contents


def embed_new_rows(contents: Contents, settings: Settings, embed, progress: bool) -> NewRows:
    """Chunk the new documents and embed their chunks (cached vectors are reused)."""
    chunks = _chunk_all(contents.documents, settings)
    vectors, embedded = embed([c.text for c in chunks], progress)
    rows = NewRows(list(contents.documents), chunks, vectors, embedded)
    local_build.stage_reached("after_embed")
    return rows
