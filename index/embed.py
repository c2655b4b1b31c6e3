"""Sentence embeddings with the bundled all-MiniLM-L6-v2, and a cache so no text is embedded twice."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from core.settings import IndexSettings
from core.types import sha256_text
from index.model import MODEL_DIM, Embedder, bundled_model_path
from index.onnx_backend import OnnxEmbedder

__all__ = ["Embedder", "bundled_model_path", "load_embedder", "embed_cached", "EmbeddingCache"]


class TorchEmbedder:
    """fp32 sentence-transformers on the CPU; normalized vectors, length-sorted batches."""

    backend = "torch"

    def __init__(self, model_id: str, batch_size: int = 64, model_dir: Path | None = None):
        """The bundled model, or the sentence-transformers folder `model_dir` (safetensors
        weights only; `bala bench bioasq --encoder` measures a fine-tuned one)."""
        from sentence_transformers import SentenceTransformer

        self.model_id = model_id
        self.batch_size = batch_size
        folder = model_dir if model_dir is not None else bundled_model_path()
        self.model = SentenceTransformer(
            str(folder), device="cpu", model_kwargs={"use_safetensors": True}
        )
        self.dim = int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers sorts by length inside encode() and restores the order.
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_EMBEDDERS: dict[tuple, Embedder] = {}
_LOCK = threading.Lock()


def load_embedder(settings: IndexSettings) -> Embedder:
    """One embedder per (model, backend) per process; safe to call from several threads."""
    key = (settings.model_id, settings.backend, settings.batch_size, settings.onnx_cache_dir)
    with _LOCK:
        if key not in _EMBEDDERS:
            if settings.backend == "torch":
                _EMBEDDERS[key] = TorchEmbedder(settings.model_id, settings.batch_size)
            elif settings.backend in ("onnx", "onnx-int8"):
                _EMBEDDERS[key] = OnnxEmbedder(
                    settings.model_id,
                    settings.batch_size,
                    settings.backend,
                    settings.onnx_cache_dir,
                )
            else:
                raise ValueError(
                    f"unknown embedding backend '{settings.backend}' (torch|onnx|onnx-int8)"
                )
        return _EMBEDDERS[key]


def loaded_embedders() -> set[tuple]:
    """Keys of the embedders this process holds now (for `release_embedders`)."""
    with _LOCK:
        return set(_EMBEDDERS)


def release_embedders(keep: set[tuple]) -> None:
    """Let go of the embedders loaded since `keep` was taken (an ingest's model, once its
    rows are embedded); whoever holds one of them (an answer engine) keeps it."""
    with _LOCK:
        for key in set(_EMBEDDERS) - keep:
            del _EMBEDDERS[key]


SCAN_FROM = 2000  # lookups of more texts than this read the model's whole cache once


class EmbeddingCache:
    """(model key, text sha256) -> float32 vector, in one SQLite file shared across builds."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, sha TEXT, vec BLOB, "
            "PRIMARY KEY (model, sha))"
        )

    def iter_many(self, model: str, shas: list[str]) -> Iterator[tuple[str, np.ndarray]]:
        """(sha, vector) for each of `shas` in the cache, one at a time (no dict of them)."""
        if len(shas) > SCAN_FROM:  # one range scan beats many IN queries for a whole library
            wanted = set(shas)
            rows = self.db.execute("SELECT sha, vec FROM vectors WHERE model=?", (model,))
            yield from ((s, np.frombuffer(b, dtype=np.float32)) for s, b in rows if s in wanted)
            return
        for i in range(0, len(shas), 500):
            part = shas[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT sha, vec FROM vectors WHERE model=? AND sha IN ({marks})", [model, *part]
            )
            yield from ((sha, np.frombuffer(blob, dtype=np.float32)) for sha, blob in rows)

    def put_many(self, model: str, items: list[tuple[str, np.ndarray]]) -> None:
        rows = [(model, sha, np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?)", rows)

    def close(self) -> None:
        self.db.close()


def model_key(model_id: str, backend: str) -> str:
    return f"{model_id}|{backend}"


EMBED_SLICE = 1024  # texts embedded between cache writes: an interrupted ingest resumes here


def embed_cached(
    texts: list[str],
    key: str,
    cache: EmbeddingCache | None,
    get_embedder: Callable[[], Embedder],
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (row-aligned) and how many had to be computed.

    The embedder is only created when some text is missing from the cache, so an unchanged
    library never loads the model. New vectors reach the cache slice by slice as they are
    computed, so an interrupted run keeps them; `progress` shows a bar over the slices.
    Every vector, cached or computed, goes straight into the one output array (a dict of
    per-text arrays beside it cost ~1.6 KB a passage: 195 MB for 118,000 passages).
    """
    rows_of: dict[str, list[int]] = {}
    for row, text in enumerate(texts):
        rows_of.setdefault(sha256_text(text), []).append(row)
    out = np.zeros((len(texts), MODEL_DIM), dtype=np.float32)
    missing = dict.fromkeys(rows_of)
    for sha, vector in cache.iter_many(key, list(rows_of)) if cache else ():
        out = _placed(out, rows_of[sha], vector)
        missing.pop(sha, None)
    todo_shas = list(missing)
    if todo_shas:
        todo_texts = [texts[rows_of[s][0]] for s in todo_shas]
        for rows, fresh in _computed(get_embedder(), todo_texts, progress):
            new_items = [(todo_shas[r], v) for r, v in zip(rows, fresh)]
            for sha, vector in new_items:
                out = _placed(out, rows_of[sha], vector)
            if cache:
                cache.put_many(key, new_items)
    return out, len(todo_shas)


def _placed(out: np.ndarray, rows: list[int], vector: np.ndarray) -> np.ndarray:
    """`out` with `vector` in `rows`; a model whose vectors are not MODEL_DIM wide gets an
    output array of its own width on its first vector."""
    if out.shape[1] != len(vector):
        out = np.zeros((len(out), len(vector)), dtype=np.float32)
    out[rows] = vector
    return out


def _computed(embedder: Embedder, texts: list[str], progress: bool):
    """(row numbers, vectors) as they are computed: an embedder with `encode_stream` (a
    pool of workers, index/ray_ingest.py) yields them in its own order and pieces; any
    other is called slice by slice."""
    stream = getattr(embedder, "encode_stream", None)
    if stream is not None:
        bar = _bar(len(texts), progress)
        for rows, vectors in stream(texts):
            yield rows, vectors
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return
    for start, part in _slices(texts, progress):
        yield range(start, start + len(part)), embedder.encode(part)


def _bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="passage", leave=False)


def _slices(items: list[str], progress: bool):
    """(start, piece) of `items` in EMBED_SLICE pieces, with a tqdm bar (counting texts)
    when asked."""
    bar = _bar(len(items), progress)
    try:
        for i in range(0, len(items), EMBED_SLICE):
            part = items[i : i + EMBED_SLICE]
            yield i, part
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
