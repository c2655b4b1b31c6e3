"""`bala bench scale`: flat vs approximate FAISS, and BM25, at up to 1M passages on one machine.

Vectors are synthesized deterministically in chunks: noisy copies of 4,000 random centers on
the unit sphere (clustered like passage embeddings, which is harder for an inverted file than
uniform noise). Each index type is built in its own child process so its peak memory is its
own; recall@10 is measured against exact search computed by streaming the same chunks.
BM25: the BioASQ passages' real tokens, repeated until there are n rows (so each term keeps
its share of passages and query postings grow with n), built and queried with the BioASQ
questions in a child process. Store: n one-chunk passages written to SQLite, then opened
and read the way answering reads it (hit rows, source filters).
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np

from eval.shared import print_result, run_in_child

DIM, CENTERS, CHUNK, NOISE = 384, 4000, 100_000, 0.6


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _centers() -> np.ndarray:
    return _unit(np.random.default_rng(12345).normal(size=(CENTERS, DIM)))


def make_chunk(start: int, size: int, centers: np.ndarray) -> np.ndarray:
    """Rows [start, start+size) of the synthetic corpus, the same on every call."""
    rng = np.random.default_rng(start + 1)
    picks = rng.integers(0, len(centers), size=size)
    return _unit(centers[picks] + NOISE * rng.normal(size=(size, DIM)) / np.sqrt(DIM))


def make_queries(n: int, centers: np.ndarray) -> np.ndarray:
    return make_chunk(10**9, n, centers)


def _child(kind: str, n: int, n_queries: int, out: str) -> None:
    """Build one index type over n vectors; time queries; print stats; save top-10 rows."""
    import faiss

    from index.dense import build_faiss

    faiss.omp_set_num_threads(2)
    centers = _centers()
    started = time.perf_counter()
    first = make_chunk(0, min(CHUNK, n), centers)
    index = build_faiss(first, kind)
    for start in range(CHUNK, n, CHUNK):
        index.add(make_chunk(start, min(CHUNK, n - start), centers))
    build_s = time.perf_counter() - started
    queries = make_queries(n_queries, centers)
    faiss.omp_set_num_threads(1)
    latencies, rows = [], []
    for q in queries:
        t = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), 10)
        latencies.append((time.perf_counter() - t) * 1000)
        rows.append(found[0])
    np.save(out, np.asarray(rows))
    stats = {
        "build_s": build_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "query_p50_ms": float(np.percentile(latencies, 50)),
        "query_p95_ms": float(np.percentile(latencies, 95)),
    }
    print(json.dumps(stats))


def exact_top10(n: int, n_queries: int) -> np.ndarray:
    """Exact top-10 rows for the queries, streaming the corpus chunk by chunk."""
    centers = _centers()
    queries = make_queries(n_queries, centers)
    best_scores = np.full((n_queries, 10), -np.inf, dtype=np.float32)
    best_rows = np.zeros((n_queries, 10), dtype=np.int64)
    for start in range(0, n, CHUNK):
        block = make_chunk(start, min(CHUNK, n - start), centers)
        scores = queries @ block.T
        rows = np.arange(start, start + len(block))
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_rows = np.concatenate([best_rows, np.broadcast_to(rows, scores.shape)], axis=1)
        top = np.argsort(-all_scores, axis=1, kind="stable")[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_rows = np.take_along_axis(all_rows, top, axis=1)
    return best_rows


def _run_child(kind: str, n: int, n_queries: int, workdir: Path) -> tuple[dict, np.ndarray]:
    out = workdir / f"{kind}.npy"
    return run_in_child("eval.bench_scale", "_child", kind, n, n_queries, str(out)), np.load(
        out, allow_pickle=False
    )


def _lexical_child(n: int, n_queries: int) -> None:
    """Build BM25 over n rows of repeated BioASQ tokens; time searches; print stats."""
    from eval.bioasq_data import golden_files, load_bioasq
    from index.lexical import Bm25Index, bm25_rows, tokenize
    from index.row_terms import RowTerms

    corpus, queries, _ = load_bioasq(golden_files(), golden_files())
    base = RowTerms.from_tokens(bm25_rows([tokenize(corpus[d]["text"]) for d in sorted(corpus)]))
    started = time.perf_counter()
    rows = repeat_rows(base, n)
    index = Bm25Index.from_rows(rows)
    build_s = time.perf_counter() - started
    latencies = []
    for qid in sorted(queries)[:n_queries]:
        t = time.perf_counter()
        index.search(queries[qid], 50)
        latencies.append((time.perf_counter() - t) * 1000)
    print(
        json.dumps(
            {
                "rows": rows.n_rows,
                "terms": len(rows.terms),
                "postings": int(len(index.model.scores["data"])),
                "build_s": build_s,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "query_p50_ms": float(np.percentile(latencies, 50)),
                "query_p95_ms": float(np.percentile(latencies, 95)),
            }
        )
    )


def repeat_rows(base, n: int):
    """The first n rows of base's rows repeated end to end (term ids shared)."""
    from index.row_terms import RowTerms

    reps = -(-n // base.n_rows)
    lengths = np.tile(base.lengths, reps)[:n]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.tile(base.ids, reps)[: offsets[-1]]
    return RowTerms(base.terms, ids, offsets)


def _current_rss_mb() -> float:
    """Resident memory now (not the peak), from /proc; 0 where /proc is absent."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")), 0)
    return int(kb) / 1024


def _store_child(n: int, n_queries: int, path: str) -> None:
    """Write a store of n one-chunk passages (BioASQ texts repeated), then open it and time
    what answering does with it: fetching hit rows, filtering rows by source."""
    from core.types import Document, PageSpan, Source
    from eval.bench_ingest import index_records
    from eval.bioasq_data import golden_files, load_bioasq
    from index.store import Store, write_store
    from ingest.chunking import chunk_document

    corpus, _, _ = load_bioasq(golden_files(), golden_files())
    started = time.perf_counter()
    docs, chunks = [], []
    for i, record in enumerate(index_records(corpus, n)):
        text = record["text"]
        doc = Document(Source(f"pmid:{record['pmid']}#{i}"), text, (PageSpan(1, 0, len(text)),))
        docs.append(doc)
        chunks.append(chunk_document(doc, len(text) + 1, 0)[0])
    write_store(Path(path), docs, chunks, {"bench.jsonl": ("-", [d.source_id for d in docs])})
    write_s = time.perf_counter() - started
    del docs, chunks
    rss_before = _current_rss_mb()
    started = time.perf_counter()
    store = Store(Path(path))
    rows = store.chunks
    open_s = time.perf_counter() - started
    rng = np.random.default_rng(7)
    fetch_ms, filter_ms = [], []
    for _ in range(n_queries):
        picks = rng.integers(0, len(rows), size=100)  # a query's candidate rows
        t = time.perf_counter()
        [rows[int(r)] for r in picks]
        fetch_ms.append((time.perf_counter() - t) * 1000)
    source_ids = [rows[int(r)].source_id for r in rng.integers(0, len(rows), size=50)]
    for _ in range(20):
        t = time.perf_counter()
        store.rows_of_sources(source_ids)
        filter_ms.append((time.perf_counter() - t) * 1000)
    print(
        json.dumps(
            {
                "rows": len(rows),
                "file_mb": Path(path).stat().st_size / 2**20,
                "write_s": write_s,
                "open_s": open_s,
                "fetch_100_rows_p95_ms": float(np.percentile(fetch_ms, 95)),
                "filter_50_sources_p95_ms": float(np.percentile(filter_ms, 95)),
                "rss_growth_after_reads_mb": _current_rss_mb() - rss_before,
            }
        )
    )


def run_store_scale(n: int, n_queries: int) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "store.sqlite")
        return run_in_child("eval.bench_scale", "_store_child", n, n_queries, path)


def run_lexical_scale(n: int, n_queries: int) -> dict:
    return run_in_child("eval.bench_scale", "_lexical_child", n, n_queries)


def run_scale_bench(n: int = 1_000_000, n_queries: int = 200, kinds=("flat", "ivf-sq8")) -> dict:
    import tempfile

    from core.settings import IndexSettings
    from index.dense import choose_index_type

    exact = exact_top10(n, n_queries)
    result = {"n": n, "dim": DIM, "queries": n_queries, "indexes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            stats, rows = _run_child(kind, n, n_queries, Path(tmp))
            hits = [len(set(a) & set(b)) / 10 for a, b in zip(rows, exact)]
            stats["recall@10_vs_exact"] = float(np.mean(hits))
            result["indexes"][kind] = stats
    result["bala_chooses"] = choose_index_type(n, IndexSettings().approx_from)
    result["targets"] = {"peak_rss_mb": 2048, "query_p95_ms": 100, "recall@10": 0.95}
    return result


def _cmd(args) -> int:
    result = {}
    if args.part in ("all", "dense"):
        result = run_scale_bench(args.n, args.queries)
    if args.part in ("all", "bm25"):
        result["bm25"] = run_lexical_scale(args.n, args.queries)
    if args.part in ("all", "store"):
        result["store"] = run_store_scale(args.n, args.queries)
    print_result(result, args.json)
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("scale", help="flat vs approximate FAISS, and BM25, up to 1M passages")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--part", choices=["all", "dense", "bm25", "store"], default="all")
    p.add_argument("--json", metavar="OUT")
    p.set_defaults(func=_cmd)
