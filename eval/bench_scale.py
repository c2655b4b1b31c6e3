"""`bala bench scale`: flat vs approximate FAISS, and BM25, at up to 1M passages on one machine.

Vectors are synthesized deterministically in chunks: noisy copies of 4,000 random centers on
the unit sphere (clustered like passage embeddings, which is harder for an inverted file than
uniform noise). Each index type is built in its own child process so its peak memory is its
own; recall@10 is measured against exact search computed by streaming the same chunks.
BM25: the BioASQ passages' real tokens, repeated until there are n rows (so each term keeps
its share of passages and query postings grow with n), built and queried with the BioASQ
questions in a child process.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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
    code = "import sys; from eval.bench_scale import _child; _child(*sys.argv[1:2], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])"
    cmd = [sys.executable, "-c", code, kind, str(n), str(n_queries), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=7200)
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


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


def run_lexical_scale(n: int, n_queries: int) -> dict:
    code = "import sys; from eval.bench_scale import _lexical_child; _lexical_child(int(sys.argv[1]), int(sys.argv[2]))"
    cmd = [sys.executable, "-c", code, str(n), str(n_queries)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=7200)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_scale_bench(n: int = 1_000_000, n_queries: int = 200, kinds=("flat", "ivf-sq8")) -> dict:
    import tempfile

    from index.dense import choose_index_type
    from ingest.settings import IndexSettings

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
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("scale", help="flat vs approximate FAISS, and BM25, up to 1M passages")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--part", choices=["all", "dense", "bm25"], default="all")
    p.add_argument("--json", metavar="OUT")
    p.set_defaults(func=_cmd)
