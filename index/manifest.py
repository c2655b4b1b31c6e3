"""manifest.json: what a build holds and how it was made; checked on every load.

`Manifest` is the typed form every reader uses. It records the recipe (schema, model, chunker,
BM25), the counts, the input files, and each build file's size and sha256: opening a build
checks sizes and counts (cheap), `bala status --verify` checks the hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from index.lexical import TOKENIZER_VERSION
from ingest.chunking import chunker_params

SCHEMA_VERSION = 3  # 3: BM25 row terms kept as arrays beside the index (no tokens in the store)
_KNOWN = (
    "schema_version build_id created_at model chunker faiss bm25 counts files duplicates "
    "build_files write_seconds"
).split()


class IndexMismatchError(RuntimeError):
    """The index on disk cannot be used with the running settings or is inconsistent."""


class IndexDamagedError(IndexMismatchError):
    """A build file is missing, truncated, unreadable or not what the manifest recorded."""


def bm25_params(settings: Settings) -> dict:
    """BM25 parameters as the manifest records them (a change forces a rebuild)."""
    return {
        "k1": settings.index.bm25_k1,
        "b": settings.index.bm25_b,
        "tokenizer": TOKENIZER_VERSION,
    }


@dataclass(frozen=True)
class ModelInfo:
    id: str
    backend: str
    dim: int


@dataclass(frozen=True)
class Manifest:
    """A build's manifest. Unknown keys (written by a newer bala or another layer) are kept."""

    build_id: str
    created_at: str
    model: ModelInfo
    chunker: dict
    bm25: dict
    counts: dict  # sources, chunks, files
    faiss_type: str = "flat"
    schema_version: int = SCHEMA_VERSION
    files: dict[str, str] = field(default_factory=dict)  # input path -> sha256
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # path -> ids held elsewhere
    build_files: dict[str, dict] = field(default_factory=dict)  # build file -> size, sha256
    write_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def chunk_count(self) -> int | None:
        return self.counts.get("chunks")

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        try:
            model = data["model"]
            return cls(
                build_id=data["build_id"],
                created_at=data.get("created_at", ""),
                model=ModelInfo(model["id"], model["backend"], int(model["dim"])),
                chunker=data.get("chunker", {}),
                bm25=data.get("bm25", {}),
                counts=data.get("counts", {}),
                faiss_type=data.get("faiss", {}).get("type", "flat"),
                schema_version=data.get("schema_version", 0),
                files=data.get("files", {}),
                duplicates=data.get("duplicates", {}),
                build_files=data.get("build_files", {}),
                write_seconds=data.get("write_seconds", 0.0),
                extra={k: v for k, v in data.items() if k not in _KNOWN},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexDamagedError(f"manifest lacks or garbles {exc}") from exc

    def to_json(self) -> dict:
        return {
            **self.extra,
            "schema_version": self.schema_version,
            "build_id": self.build_id,
            "created_at": self.created_at,
            "model": {"id": self.model.id, "backend": self.model.backend, "dim": self.model.dim},
            "chunker": self.chunker,
            "faiss": {"type": self.faiss_type},
            "bm25": self.bm25,
            "counts": self.counts,
            "files": self.files,
            "duplicates": self.duplicates,
            "build_files": self.build_files,
            "write_seconds": self.write_seconds,
        }

    def compatible_with(self, settings: Settings, dim: int | None = None) -> list[str]:
        """Why this build cannot be read with `settings` (empty when it can)."""
        problems = []
        if self.schema_version != SCHEMA_VERSION:
            problems.append(
                f"schema version {self.schema_version} (this bala reads {SCHEMA_VERSION})"
            )
        if self.model.id != settings.index.model_id:
            problems.append(f"model '{self.model.id}' (settings use '{settings.index.model_id}')")
        if self.model.backend != settings.index.backend:
            problems.append(
                f"embedding backend '{self.model.backend}' (settings use "
                f"'{settings.index.backend}')"
            )
        if dim is not None and self.model.dim != dim:
            problems.append(f"dimension {self.model.dim} (model gives {dim})")
        return problems

    def same_recipe(self, settings: Settings) -> bool:
        """Whether a build with `settings` would chunk, embed and score exactly like this one
        (otherwise everything is re-chunked; embeddings still come from the cache)."""
        params = chunker_params(settings.ingest.chunk_size, settings.ingest.chunk_overlap)
        return (
            not self.compatible_with(settings)
            and self.chunker == params
            and self.bm25 == bm25_params(settings)
        )


def write_manifest(path: Path, manifest: Manifest) -> None:
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")


def read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexDamagedError(f"unreadable manifest {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise IndexDamagedError(f"unreadable manifest {path}: not a JSON object")
    try:
        return Manifest.from_json(data)
    except IndexDamagedError as exc:
        raise IndexDamagedError(f"{path}: {exc}") from exc


def check_compatible(manifest: Manifest, settings: Settings, dim: int | None = None) -> None:
    """Refuse an index built with another schema, model, backend or dimension."""
    problems = manifest.compatible_with(settings, dim)
    if problems:
        raise IndexMismatchError(
            "index was built with " + "; ".join(problems) + ": rebuild it with `bala ingest`"
        )


def check_counts(manifest: Manifest, vectors: int, chunks: int, bm25_docs: int) -> None:
    """Vector, chunk and BM25 document counts must agree with each other and the manifest."""
    expected = manifest.chunk_count
    if not (vectors == chunks == bm25_docs == expected):
        raise IndexDamagedError(
            f"index is inconsistent: {vectors} vectors, {chunks} chunks, {bm25_docs} BM25 docs, "
            f"manifest says {expected} chunks: rebuild it with `bala ingest`"
        )


def file_records(build_dir: Path) -> dict[str, dict]:
    """Size and sha256 of every file of a build (relative paths), manifest excepted."""
    records = {}
    for path in sorted(p for p in build_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(build_dir).as_posix()
        if rel == "manifest.json" or rel.startswith("."):
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        records[rel] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
    return records


def check_sizes(build_dir: Path, manifest: Manifest) -> None:
    """Every recorded build file exists with its recorded size (cheap: no reading)."""
    for rel, record in manifest.build_files.items():
        path = build_dir / rel
        try:
            size = path.stat().st_size
        except OSError:
            raise IndexDamagedError(f"{path} is missing") from None
        if size != record["size"]:
            raise IndexDamagedError(
                f"{path} is {size} bytes, the manifest recorded {record['size']} "
                "(truncated or replaced)"
            )


def verify_hashes(build_dir: Path, manifest: Manifest) -> list[str]:
    """Problems found by re-hashing every recorded build file (empty: intact)."""
    problems = []
    for rel, record in manifest.build_files.items():
        path = build_dir / rel
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            problems.append(f"{path}: unreadable ({exc.strerror or exc})")
            continue
        if digest != record["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest (damaged or replaced)")
    return problems
