"""The Milvus retriever: the live build's collection, checked on load like a local build.

Opening follows the pointer record (index/milvus_build.py) to the build's collection, reads
the manifest stored with it and refuses it exactly as a local build is refused
(`check_compatible`: schema, model, backend, dimension; then the row count against the
manifest). Searches run in Milvus: dense (FLAT, inner product) and BM25 (our weights as a
sparse vector, inner product with the query's term counts), with source filters as a
Milvus boolean expression. The catalogue (source metadata, stored texts for the verbatim
check, reference lists) is the SQLite store of the same build in the index directory.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.settings import Settings
from core.types import Chunk, Source
from index import layout
from index.filters import Filters
from index.layout import IndexMissingError
from index.lexical import tokenize
from index.manifest import IndexDamagedError, Manifest, check_compatible
from index.milvus_build import (
    MilvusUnavailableError,
    collection_name,
    connect,
    count_rows,
    get_meta,
    live_build_id,
)
from index.store import Store

CHUNK_FIELDS = ["row", "chunk_id", "source_id", "text", "start", "end", "pages", "section"]
MAX_ROWS_SEEN = 200_000  # about 330 MB of 384-d vectors at most; cleared when exceeded


def _sparse(value) -> dict[int, float]:
    """A sparse vector as pymilvus returns it (a dict, or a scipy row) as {term id: weight}."""
    if isinstance(value, dict):
        return {int(k): float(v) for k, v in value.items()}
    row = value.tocsr()
    return dict(zip(row.indices.tolist(), row.data.tolist()))


def _quoted(values) -> str:
    return json.dumps(sorted(values))


def filter_expression(filters: Filters) -> str:
    """The Milvus boolean expression of `Filters.source_passes` over the passage fields."""
    populations = filters.populations
    if populations is not None and set(populations) & {"pediatric", "adult"}:
        populations = {*populations, "both"}  # a study of both ages serves either
    members = (
        ("source_id", filters.source_ids),
        ("kind", filters.kinds),
        ("design", filters.designs),
        ("population", populations),
    )
    parts = [f"{name} in {_quoted(values)}" for name, values in members if values is not None]
    if filters.diseases is not None:
        parts.append(f"ARRAY_CONTAINS_ANY(diseases, {_quoted(filters.diseases)})")
    years = ((">=", filters.year_min), ("<=", filters.year_max))
    parts += [f"(year >= 0 and year {op} {int(y)})" for op, y in years if y is not None]
    return " and ".join(parts)


@dataclass
class MilvusIndex:
    """One published build in Milvus (implements index.retriever.Retriever)."""

    client: object
    uri: str
    manifest: Manifest
    vocab: dict[str, int]
    df: list[int]
    catalogue: Store | None = None
    warning: str = ""
    engine: str = "milvus"
    hold: object | None = None
    timeout: float = 5.0
    _no_sources: dict = field(default_factory=dict)
    # Each row's dense and BM25 vectors, kept as searches return them (a build never
    # changes), so fusion and feedback need no further round trips.
    _dense_seen: dict = field(default_factory=dict)
    _sparse_seen: dict = field(default_factory=dict)

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    @property
    def collection(self) -> str:
        return collection_name(self.build_id)

    @property
    def sources(self) -> dict[str, Source]:
        return self.catalogue.sources if self.catalogue is not None else self._no_sources

    def count(self) -> int:
        return int(self.manifest.chunk_count or 0)  # counted in Milvus when opened

    def _call(self, method: str, *args, **kwargs):
        """A client call; any failure becomes MilvusUnavailableError naming the URI."""
        try:
            return getattr(self.client, method)(*args, timeout=self.timeout, **kwargs)
        except Exception as exc:  # MilvusException, grpc errors
            raise MilvusUnavailableError(
                f"Milvus at {self.uri} failed ({type(exc).__name__}: {exc})"
            ) from exc

    def _search(self, field_name, data, n, where, params, out=("dense",)) -> list[tuple]:
        """Top-n (row, inner product); the rows' `out` vectors are kept for fusion."""
        if n <= 0:
            return []
        found = self._call(
            "search",
            self.collection,
            data=[data],
            anns_field=field_name,
            limit=n,
            filter=where,
            search_params={"metric_type": "IP", "params": params},
            output_fields=list(out),
        )
        self._remember([h["entity"] | {"row": h["id"]} for h in found[0]])
        hits = [(int(h["id"]), float(h["distance"])) for h in found[0]]
        return sorted(hits, key=lambda h: (-h[1], h[0]))

    def _remember(self, entities: list[dict]) -> None:
        for name, seen in (("dense", self._dense_seen), ("bm25", self._sparse_seen)):
            if len(seen) > MAX_ROWS_SEEN:
                seen.clear()
            for e in entities:
                if name in e:
                    value = e[name]
                    seen[int(e["row"])] = (
                        np.asarray(value, dtype=np.float32) if name == "dense" else _sparse(value)
                    )

    def _seen(self, rows: list[int], name: str) -> list:
        """Each row's dense or BM25 vector, fetching the rows not seen yet in one query."""
        seen = self._dense_seen if name == "dense" else self._sparse_seen
        missing = [r for r in rows if r not in seen]
        if missing:
            self._remember(list(self._rows(missing, ["row", name]).values()))
        return [seen[r] for r in rows]

    def dense_search(self, query_vec, n: int, filters: Filters) -> list[tuple[int, float]]:
        vec = np.asarray(query_vec, dtype=np.float32).tolist()
        return self._search("dense", vec, n, filter_expression(filters), {}, ("dense", "bm25"))

    def _query_vector(self, query: str) -> dict[int, float]:
        counts = Counter(self.vocab[t] for t in tokenize(query) if t in self.vocab)
        return {tid: float(c) for tid, c in counts.items()}

    def lexical_search(self, query: str, n: int, filters: Filters) -> list[tuple[int, float]]:
        vec = self._query_vector(query)
        if not vec:
            return []
        params = {"drop_ratio_search": 0.0}
        hits = self._search("bm25", vec, n, filter_expression(filters), params)
        return [(r, s) for r, s in hits if s > 0]

    def lexical_scores(self, query: str, rows: list[int]) -> dict[int, float]:
        """The inner product of the query's term counts with each row's stored BM25 vector
        (what the BM25 search ranks by), in float32 as Milvus sums it."""
        vec = self._query_vector(query)
        if not vec or not rows:
            return {int(r): 0.0 for r in rows}
        scores = {}
        for row, sparse in zip(rows, self._seen([int(r) for r in rows], "bm25")):
            terms = [t for t in vec if t in sparse]
            weights = np.array([sparse[t] * vec[t] for t in terms], dtype=np.float32)
            scores[int(row)] = float(weights.sum(dtype=np.float32))
        return scores

    def _rows(self, rows: list[int], fields: list[str]) -> dict[int, dict]:
        if not rows:
            return {}
        found = self._call(
            "query", self.collection, filter=f"row in {sorted(set(rows))}", output_fields=fields
        )
        by_row = {int(e["row"]): e for e in found}
        missing = [r for r in rows if r not in by_row]
        if missing:
            raise IndexDamagedError(f"Milvus collection {self.collection} lacks rows {missing}")
        return by_row

    def vectors(self, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.manifest.model.dim), dtype=np.float32)
        return np.stack(self._seen([int(r) for r in rows], "dense"))

    def chunks(self, rows: list[int]) -> list[Chunk]:
        by_row = self._rows(rows, CHUNK_FIELDS)
        return [_chunk(by_row[r]) for r in rows]

    def idf(self) -> dict[str, float]:
        n = max(self.manifest.chunk_count or 0, 1)
        return {t: float(np.log((n + 1) / (self.df[i] + 0.5))) for t, i in self.vocab.items()}

    def close(self) -> None:
        if self.catalogue is not None:
            self.catalogue.close()
        layout.release_build(self.hold)
        self.client.close()


def _chunk(e: dict) -> Chunk:
    pages = tuple(json.loads(e["pages"]))
    return Chunk(
        e["chunk_id"], e["source_id"], e["start"], e["end"], e["text"], pages, e["section"]
    )


def open_collection(client, uri: str, build_id: str, settings: Settings | None) -> MilvusIndex:
    """One build's collection, its manifest checked against the settings and its rows
    counted against the manifest (catalogue not attached)."""
    name = collection_name(build_id)
    raw = get_meta(client, f"manifest:{build_id}")
    terms = get_meta(client, f"terms:{build_id}")
    if raw is None or terms is None or not client.has_collection(name):
        raise IndexDamagedError(f"Milvus at {uri}: build {build_id} is incomplete ({name})")
    manifest = Manifest.from_json(json.loads(raw))
    if settings is not None:
        check_compatible(manifest, settings, manifest.model.dim)
    client.load_collection(name)
    counted = count_rows(client, name)
    if counted != manifest.chunk_count:
        raise IndexDamagedError(
            f"Milvus collection {name} holds {counted} rows, manifest says {manifest.chunk_count}"
        )
    words, df = json.loads(terms)
    vocab = {t: i for i, t in enumerate(words)}
    return MilvusIndex(client, uri, manifest, vocab, df)


def open_milvus(settings: Settings) -> MilvusIndex:
    """The live Milvus build with its catalogue (the build's store in the index directory)."""
    uri = settings.index.milvus_uri
    client = connect(uri, settings.index.milvus_timeout_s)
    build_id = live_build_id(client)
    if build_id is None:
        client.close()
        raise IndexMissingError(
            f"Milvus at {uri} has no published bala build: run `bala ingest` with BALA_ENGINE=milvus"
        )
    try:
        index = open_collection(client, uri, build_id, settings)
    except Exception:
        client.close()
        raise
    build = layout.builds_dir(settings.index_dir) / build_id
    store_path = Path(build) / "store.sqlite"
    if not store_path.is_file():
        client.close()
        raise IndexMissingError(
            f"{store_path}: the catalogue of Milvus build {build_id} is missing "
            "(run `bala ingest` with BALA_ENGINE=milvus on this index directory)"
        )
    index.catalogue = Store(store_path)
    index.timeout = settings.index.milvus_timeout_s
    index.hold = layout.hold_build(build)
    return index
