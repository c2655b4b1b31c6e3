"""Which file provides each source: the plan of an ingest run, and one source per id.

When two files yield the same source id, the one with curated metadata (a sidecar) keeps it,
then the one that already provides it in the live build (first indexed), then path order; the
other is reported as a duplicate, and read again should its provider go away.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from core.types import Document, IngestReport
from index.manifest import Manifest
from index.owners import filled, metadata_only, stub_sources


@dataclass
class Plan:
    """The next build's files: new documents, or None where the live build's rows are reused."""

    files: dict[str, tuple[str, list[Document] | None]] = field(default_factory=dict)
    changed: bool = False
    deleted_pmids: set[str] = field(default_factory=set)  # MEDLINE <DeleteCitation>s


@dataclass
class LiveBuild:
    """What the live build holds: its directory, manifest and files."""

    build: Path | None = None
    manifest: Manifest | None = None
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # path -> sha, ids
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # path -> ids held elsewhere

    @property
    def store_path(self) -> Path | None:
        return self.build / "store.sqlite" if self.build else None


def source_ids(entry: tuple[str, list[Document] | None], live: LiveBuild, key: str) -> list[str]:
    docs = entry[1]
    return [d.source_id for d in docs] if docs is not None else live.files[key][1]


@dataclass
class Contents:
    """One source per id: reused ids, new documents, each file's kept ids and duplicates."""

    reused: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # file -> ids held elsewhere

    def held(self) -> set[str]:
        return {sid for _, ids in self.files.values() for sid in ids}


EXPORT_EXT = {".bib", ".bibtex", ".ris", ".json"}  # reference-manager exports (CSL as .json)


def has_curated_metadata(path: str) -> bool:
    """A file whose metadata a maintainer wrote or exported: a sidecar beside it, or a
    reference-manager export (its attached PDFs come with the entry's metadata)."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in EXPORT_EXT:
        return True
    return suffix != ".jsonl" and file.with_suffix(".json").is_file()


def _winners(candidates: dict[str, list[str]], live: LiveBuild, stubs) -> dict[str, str]:
    """The file that provides each source id: one that holds its text before a metadata-only
    entry, then curated metadata, then the file that already provides it in the live build
    (first indexed), then path order."""
    holder = {sid: key for key, (_, ids) in live.files.items() for sid in ids}
    best: dict[str, tuple] = {}
    for key, ids in candidates.items():
        curated = has_curated_metadata(key)
        for sid in ids:
            rank = ((key, sid) in stubs, not curated, holder.get(sid) != key, key)
            if sid not in best or rank < best[sid]:
                best[sid] = rank
    return {sid: rank[-1] for sid, rank in best.items()}


def _report_duplicates(key: str, ids: list[str], winner: dict[str, str], report) -> None:
    where = sorted({winner[s] for s in ids})
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    count = f"{len(ids)} sources" if len(ids) > 1 else "source"
    report.duplicates.append(
        (key, f"duplicate {count} {shown}: already provided by {', '.join(where)}; kept there")
    )


def unique_contents(plan: Plan, live: LiveBuild, report: IngestReport) -> Contents:
    candidates = {key: source_ids(plan.files[key], live, key) for key in plan.files}
    live_ids = {key: ids for key, (_, ids) in live.files.items()}
    stubs = metadata_only(plan.files, live_ids, live.store_path)
    winner = _winners(candidates, live, stubs)
    lent = stub_sources(plan.files, live_ids, live.store_path, stubs, winner)
    out = Contents()
    for key in sorted(plan.files):
        sha, docs = plan.files[key]
        kept = [sid for sid in dict.fromkeys(candidates[key]) if winner[sid] == key]
        lost = [sid for sid in dict.fromkeys(candidates[key]) if winner[sid] != key]
        held_before = set(live.files.get(key, ("", []))[1])
        replaced_stubs = [
            sid for sid in lost if (key, sid) in stubs and (docs is not None or sid in held_before)
        ]
        if replaced_stubs:
            report.warnings.extend(
                (key, f"{sid}: metadata-only entry; its text comes from {winner[sid]}")
                for sid in replaced_stubs
            )
        lost = [sid for sid in lost if (key, sid) not in stubs]
        if lost:
            out.duplicates[key] = lost
            if docs is not None or set(lost) != set(live.duplicates.get(key, ())):
                # reported when the file is read or loses a source, not on every later run
                _report_duplicates(key, lost, winner, report)
        elif key in live.duplicates and docs is None:
            out.duplicates[key] = live.duplicates[key]
        if docs is None:
            out.reused.extend(kept)
        else:
            out.documents.extend(
                replace(d, source=filled(d.source, lent[d.source_id])) if d.source_id in lent else d
                for d in docs
                if d.source_id in kept
            )
        out.files[key] = (sha, kept)
    return out


def orphaned_duplicates(contents: Contents, plan: Plan, live: LiveBuild) -> list[str]:
    """Unchanged files whose duplicate sources no file provides any more (their provider
    changed or was pruned): they must be read again to provide them."""
    held = contents.held()
    return [
        key
        for key, ids in live.duplicates.items()
        if key in plan.files and plan.files[key][1] is None and set(ids) - held
    ]
