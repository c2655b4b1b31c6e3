"""manifest.json: what a build holds and how it was made; checked on every load."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_VERSION = 4  # 4: doc_refs table (a work's reference list and in-text citations)
# 3: BM25 row terms kept as arrays beside the index (no tokens in the store)


class IndexMismatchError(RuntimeError):
    """The index on disk cannot be used with the running settings or is inconsistent."""


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexMismatchError(f"unreadable manifest {path}: {exc}") from exc


def check_compatible(manifest: dict, model_id: str, backend: str, dim: int | None) -> None:
    """Refuse an index built with another schema, model, backend or dimension."""
    problems = []
    if manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(
            f"schema version {manifest.get('schema_version')} (this bala reads {SCHEMA_VERSION})"
        )
    model = manifest.get("model", {})
    if model.get("id") != model_id:
        problems.append(f"model '{model.get('id')}' (settings use '{model_id}')")
    if model.get("backend") != backend:
        problems.append(f"embedding backend '{model.get('backend')}' (settings use '{backend}')")
    if dim is not None and model.get("dim") != dim:
        problems.append(f"dimension {model.get('dim')} (model gives {dim})")
    if problems:
        raise IndexMismatchError(
            "index was built with " + "; ".join(problems) + ": rebuild it with `bala ingest`"
        )


def check_counts(manifest: dict, vectors: int, chunks: int, bm25_docs: int) -> None:
    """Vector, chunk and BM25 document counts must agree with each other and the manifest."""
    expected = manifest.get("counts", {}).get("chunks")
    if not (vectors == chunks == bm25_docs == expected):
        raise IndexMismatchError(
            f"index is inconsistent: {vectors} vectors, {chunks} chunks, {bm25_docs} BM25 docs, "
            f"manifest says {expected} chunks: rebuild it with `bala ingest`"
        )
