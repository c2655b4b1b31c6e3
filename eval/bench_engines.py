"""`bala bench engines`: the local index and Milvus side by side, in one run, on BioASQ.

Corpus: the gold snippets of every golden file (7B-11B, deduplicated); queries: the 11B
questions. Both engines hold the same chunks and vectors (embedded once, cached) and answer
through the same production query path (index/retrieve.py: fusion and dense feedback in our
code); only the primitive searches differ. Each query is embedded once beforehand, so the
latency is the engine's part: hybrid_search (two dense searches, one BM25 search, row
fetches). Milvus is a milvus-lite server on loopback, started here and stopped by its PID.

`ingest` holds the ingest rates, single process vs Ray at 1 and 2 actors, in the same run
(eval/bench_ray.py; `--ingest-passages 0` leaves it null).
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from core.settings import Settings, load_settings
from eval.bench_bioasq import (
    DEFAULT_CACHE,
    bench_data,
    build_memory_index,
    evaluate_retriever,
)
from eval.bench_ray import ray_ingest_bench
from eval.bioasq_data import DEFAULT_DIR, golden_files
from eval.shared import write_json
from index.embed import load_embedder
from index.manifest import Manifest, ModelInfo, bm25_params
from index.milvus_build import connect, write_milvus_build
from index.milvus_index import open_collection
from index.milvus_server import lite_server
from index.normalize import normalize_query
from index.retrieve import hybrid_search

BENCH_BUILD = "bench-engines"


def default_files() -> tuple[list[Path], list[Path]]:
    """(corpus files: all 7B-11B golden files, query files: the 11B ones)."""
    files = golden_files()
    queries = [f for f in files if f.name.startswith("11B")]
    if not queries:
        raise FileNotFoundError(f"{DEFAULT_DIR}: no BioASQ golden files (set BALA_SHARED)")
    return files, queries


def _query_inputs(queries: dict, settings: Settings) -> dict[str, tuple[np.ndarray, str]]:
    """Each question's normalized query vector and lexical text, as `search` makes them."""
    normalized = {q: normalize_query(text) for q, text in queries.items()}
    texts = list(queries.values())
    vectors = load_embedder(settings.index).encode([normalized[q].dense_text for q in queries])
    return {
        text: (vectors[i], normalized[q].lexical_text)
        for i, (q, text) in enumerate(zip(queries, texts))
    }


class _ranker:
    """question -> fused (row, score) from one engine; each run's rows kept in `runs`."""

    def __init__(self, retriever, inputs, settings: Settings, runs: dict):
        self.retriever, self.inputs, self.settings, self.runs = retriever, inputs, settings, runs

    def __call__(self, text: str):
        vec, lexical = self.inputs[text]
        hits = hybrid_search(self.retriever, vec, lexical, self.settings.retrieve)
        self.runs[text] = [h.row for h in hits]
        return [(h.row, h.score) for h in hits]


def _milvus_part(chunks, vectors, settings: Settings, rank: _ranker, data) -> dict:
    """Write the collection into a fresh milvus-lite server on loopback and evaluate it."""
    queries, qrels, corpus, doc_ids = data
    with tempfile.TemporaryDirectory(prefix="bala-bench-engines-") as work:
        with lite_server(Path(work) / "milvus.db") as server:
            client = connect(server.uri)
            started = time.perf_counter()
            manifest = _manifest(settings, len(chunks), vectors.shape[1])
            write_milvus_build(chunks, vectors, {}, manifest, client)
            write_s = time.perf_counter() - started
            rank.retriever = open_collection(client, server.uri, BENCH_BUILD, settings)
            rank(next(iter(queries.values())))  # the first search loads segments: not timed
            result = evaluate_retriever(rank, queries, qrels, corpus, doc_ids)
            bm25 = _bm25_comparison(client, chunks, rank, data, settings)
            peak = _peak_rss_mb(server.pid)
            client.close()
    return {"result": result, "write_s": write_s, "server_peak": peak, "bm25": bm25}


def _bm25_comparison(client, chunks, rank: _ranker, data, settings: Settings) -> dict:
    """BM25-only nDCG@10 of our BM25 and of Milvus's BM25 function, and their agreement."""
    from eval.milvus_bm25_function import (
        FunctionRanker,
        OurRanker,
        build_bm25_function_collection,
    )

    queries, qrels, corpus, doc_ids = data
    build_bm25_function_collection(client, [c.text for c in chunks], settings)
    runs: dict[str, dict] = {"ours": {}, "milvus_function": {}}
    ours = OurRanker(rank.retriever, rank.inputs, runs["ours"])
    theirs = FunctionRanker(client, rank.inputs, runs["milvus_function"])
    scores = {
        name: round(evaluate_retriever(r, queries, qrels, corpus, doc_ids)["ndcg@10"], 4)
        for name, r in (("ours", ours), ("milvus_function", theirs))
    }
    same = sum(runs["ours"][t] == runs["milvus_function"].get(t) for t in runs["ours"])
    return {"bm25_only_ndcg@10": scores, "top10_identical": same, "of": len(runs["ours"])}


def _manifest(settings: Settings, n_rows: int, dim: int) -> Manifest:
    return Manifest(
        build_id=BENCH_BUILD,
        created_at="",
        model=ModelInfo(settings.index.model_id, settings.index.backend, dim),
        chunker={},
        bm25=bm25_params(settings),
        counts={"chunks": n_rows, "sources": 0, "files": 0},
    )


def _peak_rss_mb(pid: int | None = None) -> float | None:
    """Peak resident memory (VmHWM) of a process, or of this one."""
    if pid is None:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _local_index_mb(local) -> float:
    bm25 = local.bm25.model.scores
    nbytes = sum(np.asarray(bm25[k]).nbytes for k in ("data", "indices", "indptr"))
    return round((local.faiss_index.ntotal * local.faiss_index.d * 4 + nbytes) / 2**20, 1)


def run_engines_bench(
    corpus_files: list[Path],
    query_files: list[Path],
    cache_path: Path = DEFAULT_CACHE,
    settings: Settings | None = None,
    max_queries: int | None = None,
    max_docs: int | None = None,
    pad_to: int | None = None,
) -> dict:
    settings = settings or load_settings()
    corpus, queries, qrels = bench_data(corpus_files, query_files, max_queries, max_docs, pad_to)
    local, doc_ids, timings = build_memory_index(corpus, settings, cache_path)
    inputs = _query_inputs(queries, settings)
    n = local.count()
    vectors = local.faiss_index.reconstruct_n(0, n)
    chunks = local.chunks(list(range(n)))
    runs: dict[str, dict] = {"local": {}, "milvus": {}}
    results = {
        "local": evaluate_retriever(
            _ranker(local, inputs, settings, runs["local"]), queries, qrels, corpus, doc_ids
        )
    }
    rank = _ranker(None, inputs, settings, runs["milvus"])  # engine set in _milvus_part
    milvus = _milvus_part(chunks, vectors, settings, rank, (queries, qrels, corpus, doc_ids))
    results["milvus"] = milvus.pop("result")
    same = sum(runs["local"][t] == runs["milvus"].get(t) for t in runs["local"])
    return {
        "corpus_passages": n,
        "queries": len(queries),
        "corpus_files": [p.name for p in corpus_files],
        "query_files": [p.name for p in query_files],
        "model": settings.index.model_id,
        "backend": settings.index.backend,
        "retrieve_settings": settings.retrieve.model_dump(),
        "engines": results,
        "ndcg@10_delta": round(results["milvus"]["ndcg@10"] - results["local"]["ndcg@10"], 6),
        "top10_identical": {"queries": same, "of": len(runs["local"])},
        "build_s": {
            "embed": round(timings["embed_s"], 2),
            "local_index": timings["index_s"],
            "milvus_write": round(milvus["write_s"], 2),
        },
        "memory_mb": {
            "bench_process_peak_rss": _peak_rss_mb(),
            "milvus_server_peak_rss": milvus["server_peak"],
            "local_index_arrays": _local_index_mb(local),
        },
        "bm25_ours_vs_milvus_function": milvus["bm25"],
        "ingest": None,  # single process vs Ray: filled by _cmd (eval/bench_ray.py)
    }


def format_table(result: dict) -> str:
    lines = [
        "| engine | nDCG@10 | Recall@10 | MRR@10 | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["engines"].items():
        lines.append(
            f"| {name} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['mrr@10']:.4f} | "
            f"{r['latency_p50_ms']:.1f} | {r['latency_p95_ms']:.1f} |"
        )
    same, mem = result["top10_identical"], result["memory_mb"]
    lines.append(
        f"\n{result['corpus_passages']} passages, {result['queries']} queries; nDCG@10 delta "
        f"{result['ndcg@10_delta']:+.4f}; identical top 10 for {same['queries']}/{same['of']}; "
        f"peak RSS: bench process {mem['bench_process_peak_rss']} MB, Milvus server "
        f"{mem['milvus_server_peak_rss']} MB; local index arrays {mem['local_index_arrays']} MB"
    )
    ingest = result.get("ingest")
    if ingest:
        rates = ", ".join(
            f"{name} {v['passages_per_s']:.1f}/s" for name, v in ingest["variants"].items()
        )
        costs = ", ".join(f"{k} {v:+.1%}" for k, v in ingest["cost"].items())
        lines.append(f"ingest of {ingest['passages']} passages: {rates}; Ray cost {costs}")
    return "\n".join(lines)


def _cmd(args) -> int:
    corpus, queries = default_files()
    result = run_engines_bench(
        [Path(p) for p in args.corpus] if args.corpus else corpus,
        [Path(p) for p in args.queries] if args.queries else queries,
        Path(args.cache),
        max_queries=args.max_queries,
        max_docs=args.max_docs,
        pad_to=args.pad_to,
    )
    if args.ingest_passages:
        result["ingest"] = ray_ingest_bench(args.ingest_passages, repeats=args.ingest_repeats)
    write_json(result, args.json)
    print(format_table(result))
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("engines", help="local index vs Milvus (lite, loopback) on BioASQ")
    p.add_argument("--corpus", nargs="+", help="golden files for the corpus (default: all)")
    p.add_argument("--queries", nargs="+", help="golden files for queries (default: 11B)")
    p.add_argument("--max-queries", type=int, help="a fixed seeded subset of the queries")
    p.add_argument("--max-docs", type=int, help="judged passages plus a fixed sample, N in all")
    p.add_argument(
        "--pad-to", type=int, help="grow the corpus to N passages with marked replicas (e.g. 30000)"
    )
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="embedding cache file")
    p.add_argument(
        "--ingest-passages", type=int, default=3000, help="Ray vs single-process ingest (0: skip)"
    )
    p.add_argument("--ingest-repeats", type=int, default=3, help="interleaved ingest rounds")
    p.add_argument("--json", metavar="OUT")
    p.set_defaults(func=_cmd)
