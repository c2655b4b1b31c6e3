"""Metadata-only entries: which planned sources hold no text, and what they lend a file
with text for the same work.

A reference-manager entry without a file is a metadata-only source (stored without text).
A file with text for the same work (a PDF, a MEDLINE record, a JATS article) wins over it
(index/plan.py decides) and takes the citation fields it lacks from the entry.
"""

from __future__ import annotations

from dataclasses import fields as dc_fields
from dataclasses import replace

from core.types import Source
from index.store import Store


def _ids(files, live_ids, key) -> list[str]:
    docs = files[key][1]
    return [d.source_id for d in docs] if docs is not None else live_ids[key]


def metadata_only(files, live_ids, store_path) -> set[tuple[str, str]]:
    """(file, source id) pairs that hold no text: reference-manager entries without a file."""
    stubs = {
        (key, d.source_id)
        for key, (_, docs) in files.items()
        if docs is not None
        for d in docs
        if not d.text
    }
    reused = [key for key, (_, docs) in files.items() if docs is None]
    if reused and store_path is not None:
        store = Store(store_path)
        try:
            empty = store.metadata_only_ids()
        finally:
            store.close()
        stubs |= {(key, s) for key in reused for s in live_ids[key] if s in empty}
    return stubs


_NOT_FILLED = {"source_id", "kind", "path", "sha256", "page_labels"}


def filled(source: Source, extra: Source) -> Source:
    """`source` with its empty citation fields taken from a metadata-only entry of the same
    work (e.g. a PDF without sidecar gets the PMID its Zotero entry holds)."""
    updates = {
        f.name: getattr(extra, f.name)
        for f in dc_fields(Source)
        if f.name not in _NOT_FILLED and not getattr(source, f.name) and getattr(extra, f.name)
    }
    return replace(source, **updates) if updates else source


def stub_sources(files, live_ids, store_path, stubs, owner: dict[str, str]) -> dict[str, Source]:
    """Metadata of the metadata-only entries that lost to a file with text."""
    found: dict[str, Source] = {}
    from_live = []
    for key, source_id in sorted(stubs):
        if owner.get(source_id) == key or source_id in found:
            continue
        docs = files[key][1]
        if docs is None:
            from_live.append(source_id)
        else:
            found.update({d.source_id: d.source for d in docs if d.source_id == source_id})
    if from_live and store_path is not None:
        store = Store(store_path)
        try:
            found.update({s: store.sources[s] for s in from_live if s in store.sources})
        finally:
            store.close()
    return found
