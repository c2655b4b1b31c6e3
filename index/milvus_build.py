"""Write a build into Milvus: one collection per build, published by a pointer record.

A build's collection holds one entity per chunk row: `row` (primary key, the build's row
number), chunk id, source id, text, offsets, pages, section, the source fields filters use
(year, kind, design, population, diseases), the dense unit vector (FLAT, inner product =
cosine) and a BM25 sparse vector. The BM25 vector holds our own Lucene BM25 weights over our
Snowball stems (idf * tf / (tf + k1 * (1 - b + b * len / avg_len)), the numbers bm25s
precomputes), so an inner-product search with the query's term counts gives exactly the local
BM25 score; Milvus's built-in BM25 function analyses text with its own tokenizer and ranks
differently (docs/engines.md). The vocabulary with document frequencies, the manifest and the
pointer live in the meta collection `bala_meta`.

Publishing: the collection is written (resumably: batches already counted are skipped),
flushed, counted against the manifest, and only then the pointer record switches to it. The
previous build stays until the switch, and one before it is kept for a running app.
"""

from __future__ import annotations

import json
import re
import uuid

import numpy as np
import scipy.sparse as sp

from core.types import Chunk, Source
from index.layout import IndexMissingError
from index.lexical import ArrayBM25, bm25_rows, tokenize
from index.manifest import IndexDamagedError, Manifest
from index.row_terms import RowTerms

META = "bala_meta"
POINTER_KEY = "live"
BATCH = 1000
PART_CHARS = 60_000  # one meta value (VARCHAR holds at most 65,535 bytes)
KEEP_COLLECTIONS = 2  # the live build and the one before it
TEXT_BYTES = 65_535


class MilvusUnavailableError(IndexMissingError):
    """Milvus cannot be reached at the configured URI (the message names it)."""


def connect(uri: str, timeout: float = 5.0):
    """A MilvusClient for `uri`, or MilvusUnavailableError naming the URI."""
    try:
        from pymilvus import MilvusClient

        # an alias of its own: pymilvus shares one connection per URI otherwise, and one
        # client's close() would cut every other client's
        client = MilvusClient(uri=uri, timeout=timeout, alias=f"bala-{uuid.uuid4().hex}")
        client.list_collections(timeout=timeout)
    except ImportError as exc:
        raise MilvusUnavailableError(f"Milvus engine needs pymilvus ({exc})") from exc
    except Exception as exc:  # MilvusException, grpc errors: all mean "not usable"
        raise MilvusUnavailableError(
            f"Milvus is unreachable at {uri} ({type(exc).__name__}: {exc}); start it or set "
            "BALA_MILVUS_URI, or use BALA_ENGINE=local"
        ) from exc
    return client


def collection_name(build_id: str) -> str:
    return "bala_" + re.sub(r"[^0-9A-Za-z_]", "_", build_id)


def _ensure_meta(client) -> None:
    from pymilvus import DataType

    if client.has_collection(META):
        client.load_collection(META)
        return
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("value", DataType.VARCHAR, max_length=65_535)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
    params = client.prepare_index_params()
    params.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    client.create_collection(META, schema=schema, index_params=params)


def put_meta(client, key: str, value: str) -> None:
    """Store a text under `key`, in parts when long (`get_meta` joins them)."""
    parts = [value[i : i + PART_CHARS] for i in range(0, len(value), PART_CHARS)] or [""]
    rows = [{"key": f"{key}#{i}", "value": p, "v": [0.0, 0.0]} for i, p in enumerate(parts)]
    rows.append({"key": key, "value": json.dumps({"parts": len(parts)}), "v": [0.0, 0.0]})
    client.upsert(META, rows)
    client.flush(META)


def get_meta(client, key: str) -> str | None:
    head = client.query(META, filter=f'key == "{key}"', output_fields=["value"])
    if not head:
        return None
    n = json.loads(head[0]["value"])["parts"]
    keys = json.dumps([f"{key}#{i}" for i in range(n)])
    found = {r["key"]: r["value"] for r in client.query(META, filter=f"key in {keys}")}
    if len(found) != n:
        raise IndexDamagedError(f"Milvus meta record {key}: {len(found)} of {n} parts")
    return "".join(found[f"{key}#{i}"] for i in range(n))


def live_build_id(client) -> str | None:
    """The build id the pointer names (None before the first publish)."""
    if not client.has_collection(META):
        return None
    client.load_collection(META)
    return get_meta(client, POINTER_KEY)


def bm25_matrix(texts: list[str], k1: float, b: float) -> tuple[sp.csr_matrix, RowTerms]:
    """Row-aligned Lucene BM25 weights (rows x terms) and the terms, exactly as bm25s's."""
    rows = RowTerms.from_tokens(bm25_rows([tokenize(t) for t in texts]))
    model = ArrayBM25(k1=k1, b=b)
    csc = model._lucene_scores(rows.ids, rows.lengths, len(rows.terms))
    shape = (rows.n_rows, len(rows.terms))
    matrix = sp.csc_matrix((csc["data"], csc["indices"], csc["indptr"]), shape=shape).tocsr()
    return matrix, rows


def _schema(client, dim: int):
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
    schema.add_field("source_id", DataType.VARCHAR, max_length=512)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("pages", DataType.VARCHAR, max_length=2048)  # JSON list
    schema.add_field("section", DataType.VARCHAR, max_length=1024)
    schema.add_field("year", DataType.INT64)  # -1 when unknown
    schema.add_field("kind", DataType.VARCHAR, max_length=32)
    schema.add_field("design", DataType.VARCHAR, max_length=64)
    schema.add_field("population", DataType.VARCHAR, max_length=32)
    schema.add_field(
        "diseases", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=64
    )
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    params = client.prepare_index_params()
    params.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
    params.add_index(field_name="bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    return schema, params


def _entity(row: int, chunk: Chunk, source: Source | None, vector, weights) -> dict:
    if len(chunk.text.encode("utf-8")) > TEXT_BYTES:
        raise ValueError(f"chunk {chunk.chunk_id} of {chunk.source_id} exceeds {TEXT_BYTES} bytes")
    s = source or Source(chunk.source_id, kind="")
    start, end = weights.indptr[0], weights.indptr[1]
    sparse = dict(zip(weights.indices[start:end].tolist(), weights.data[start:end].tolist()))
    return {
        "row": row,
        "chunk_id": chunk.chunk_id,
        "source_id": chunk.source_id,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "pages": json.dumps(list(chunk.pages)),
        "section": chunk.section[:1000],
        "year": s.year if s.year is not None else -1,
        "kind": s.kind,
        "design": s.design,
        "population": s.population,
        "diseases": list(s.diseases)[:64],
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
        "bm25": sparse,
    }


def count_rows(client, name: str, where: str = "") -> int:
    found = client.query(name, filter=where, output_fields=["count(*)"])
    return int(found[0]["count(*)"])


def _write_rows(client, name, chunks, vectors, sources, matrix) -> None:
    """Insert every batch not yet complete (a resumed write skips the counted ones)."""
    for lo in range(0, len(chunks), BATCH):
        hi = min(lo + BATCH, len(chunks))
        if count_rows(client, name, f"row >= {lo} and row < {hi}") == hi - lo:
            continue
        rows = [
            _entity(r, chunks[r], sources.get(chunks[r].source_id), vectors[r], matrix[r])
            for r in range(lo, hi)
        ]
        client.upsert(name, rows)
    client.flush(name)


def write_milvus_build(
    chunks: list[Chunk],
    vectors: np.ndarray,
    sources: dict[str, Source],
    manifest: Manifest,
    uri: str | object,
    publish: bool = True,
    timeout: float = 5.0,
) -> str:
    """Write one build (row i = chunks[i] = vectors[i]) and, when complete and counted,
    switch the pointer to it. Returns the collection name. `uri` may be a connected client.

    Called by `bala ingest` with engine=milvus (index/milvus_sync.py) and by any other
    pipeline that has chunks and their vectors (e.g. a Ray ingest)."""
    if len(chunks) != len(vectors) or manifest.chunk_count not in (None, len(chunks)):
        raise ValueError(
            f"{len(chunks)} chunks, {len(vectors)} vectors, manifest {manifest.chunk_count}"
        )
    client = connect(uri, timeout) if isinstance(uri, str) else uri
    _ensure_meta(client)
    name = collection_name(manifest.build_id)
    k1, b = manifest.bm25.get("k1", 0.5), manifest.bm25.get("b", 0.5)
    matrix, terms = bm25_matrix([c.text for c in chunks], k1, b)
    if not client.has_collection(name):
        schema, params = _schema(client, int(np.asarray(vectors).shape[1]))
        client.create_collection(name, schema=schema, index_params=params)
    client.load_collection(name)
    _write_rows(client, name, chunks, vectors, sources, matrix)
    df = np.bincount(matrix.indices, minlength=len(terms.terms)).tolist()
    put_meta(client, f"terms:{manifest.build_id}", json.dumps([terms.terms, df]))
    put_meta(client, f"manifest:{manifest.build_id}", json.dumps(manifest.to_json()))
    if publish:
        publish_build(client, manifest)
    return name


def publish_build(client, manifest: Manifest) -> None:
    """Switch the pointer to a build whose collection holds exactly its manifest's rows,
    then drop collections older than the previous live one."""
    name = collection_name(manifest.build_id)
    counted = count_rows(client, name)
    if counted != manifest.chunk_count:
        raise IndexDamagedError(
            f"Milvus collection {name} holds {counted} rows, manifest says "
            f"{manifest.chunk_count}: not published"
        )
    previous = live_build_id(client)
    put_meta(client, POINTER_KEY, manifest.build_id)
    keep = {name} | ({collection_name(previous)} if previous else set())
    builds = sorted(c for c in client.list_collections() if c.startswith("bala_") and c != META)
    dropped = {old for old in builds[: max(0, len(builds) - KEEP_COLLECTIONS)] if old not in keep}
    for old in dropped:
        client.drop_collection(old)
    _forget(client, dropped)


def _forget(client, dropped: set[str]) -> None:
    """Delete the meta records (manifest, vocabulary) of builds whose collection is gone."""
    if not dropped:
        return
    heads = client.query(META, filter='key like "manifest:%"', output_fields=["key"])
    for head in heads:
        build_id = head["key"].split(":", 1)[1].split("#", 1)[0]
        if collection_name(build_id) in dropped:
            for kind in ("manifest", "terms"):
                client.delete(META, filter=f'key like "{kind}:{build_id}%"')
