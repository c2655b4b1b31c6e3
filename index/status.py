"""`bala status`: what the index holds and whether its files are intact, as far as it can tell.

Status never fails silently and never gives up early: a damaged build still reports its
manifest, the damage, and which older build `bala ask` serves meanwhile.
"""

from __future__ import annotations

from collections import Counter

from core.settings import Settings
from index import layout
from index.enrich import missing_fields
from index.loaded import LoadedIndex, open_build, open_index
from index.manifest import IndexMismatchError, Manifest, read_manifest, verify_hashes
from index.review_refs import reference_coverage
from index.store_rows import source_to_dict


def index_status(settings: Settings, verify: bool = False) -> dict:
    """Summary, per-source metadata and integrity of the live build (IndexMissingError when
    there is none). `integrity.ok` is False when anything is wrong; the rest is what could be
    read."""
    build = layout.require_current_build(settings.index_dir)
    status: dict = {
        "index_dir": str(settings.index_dir),
        "engine": settings.index.engine,
        "build_id": build.name,
    }
    try:
        manifest = read_manifest(build / "manifest.json")
    except IndexMismatchError as exc:
        return {**status, "integrity": _damaged(str(exc), settings)}
    status.update(_manifest_part(manifest))
    try:
        loaded = open_build(build, settings)
    except IndexMismatchError as exc:
        return {**status, "integrity": _damaged(str(exc), settings)}
    try:
        status.update(_contents_part(loaded))
        problems = verify_hashes(build, manifest) if verify else []
    finally:
        loaded.close()
    checked = "sizes, counts and sha256 hashes" if verify else "sizes and counts"
    if settings.index.engine == "milvus":
        status["milvus"] = milvus_status(settings)
        if not status["milvus"]["ok"]:
            problems = [*problems, status["milvus"]["problem"]]
    status["integrity"] = {"ok": not problems, "checked": checked, "problems": problems}
    return status


def milvus_status(settings: Settings) -> dict:
    """What the Milvus engine serves (its live build, rows) or why it cannot."""
    from index.milvus_index import open_milvus

    uri = settings.index.milvus_uri
    try:
        served = open_milvus(settings)
    except (layout.IndexMissingError, IndexMismatchError) as exc:
        return {"uri": uri, "ok": False, "problem": str(exc)}
    try:
        return {
            "uri": uri,
            "ok": True,
            "build_id": served.build_id,
            "collection": served.collection,
            "rows": served.count(),
        }
    finally:
        served.close()


def _damaged(problem: str, settings: Settings) -> dict:
    """The integrity record of a live build that cannot be opened, with what serves instead."""
    record = {"ok": False, "checked": "opening the build", "problems": [problem], "serving": None}
    try:
        fallback = open_index(settings)
    except IndexMismatchError:
        return record
    record["serving"] = fallback.build_id
    fallback.close()
    return record


def _manifest_part(manifest: Manifest) -> dict:
    return {
        "build_id": manifest.build_id,
        "created_at": manifest.created_at,
        "model": {
            "id": manifest.model.id,
            "backend": manifest.model.backend,
            "dim": manifest.model.dim,
        },
        "faiss": {"type": manifest.faiss_type},
        "chunker": manifest.chunker,
        "duplicates": manifest.duplicates,
    }


def _contents_part(loaded: LoadedIndex) -> dict:
    per_source = loaded.store.chunk_counts()
    stubs = loaded.store.metadata_only_ids()
    sources = [
        {
            **source_to_dict(s),
            "chunks": per_source.get(s.source_id, 0),
            "metadata_only": s.source_id in stubs,  # listed, never quoted, until text comes
            "missing_metadata": missing_fields(s),
            "labels": {
                "design": s.design,
                "population": s.population,
                "diseases": list(s.diseases),
            },
        }
        for s in sorted(loaded.store.sources.values(), key=lambda s: s.source_id)
    ]
    years = [s["year"] for s in sources if s.get("year")]
    return {
        "totals": {
            "sources": len(sources),
            "chunks": len(loaded.store.chunks),
            "files": loaded.manifest.counts.get("files", 0),
            "by_kind": dict(Counter(s["kind"] for s in sources)),
            "years": {
                "min": min(years, default=None),
                "max": max(years, default=None),
                "dated": len(years),
            },
            "with_title": sum(1 for s in sources if s.get("title")),
            "metadata_only": sum(1 for s in sources if s["metadata_only"]),
            "labels": _label_counts(sources),
        },
        "sources": sources,
        "references": reference_coverage(loaded.store),
    }


def _label_counts(sources: list[dict]) -> dict[str, dict[str, int]]:
    """How many sources carry each evidence label (design, population, disease)."""
    design = Counter(s["design"] for s in sources if s.get("design"))
    population = Counter(s["population"] for s in sources if s.get("population"))
    disease = Counter(d for s in sources for d in s.get("diseases") or ())
    return {
        "design": dict(design.most_common()),
        "population": dict(population.most_common()),
        "disease": dict(disease.most_common()),
    }
