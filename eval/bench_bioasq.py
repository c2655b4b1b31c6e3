"""`bala bench bioasq`: BM25, dense and the production hybrid side by side on BioASQ.

Corpus = union of the gold snippets of the corpus files (deduplicated by PubMed id and text);
queries = question bodies of the query files; gold = each question's snippets. The index is
built in memory from the production components; embeddings are cached across runs.
"""

from __future__ import annotations

import json
import time
from hashlib import sha256
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from core.settings import Settings, load_settings
from core.types import make_chunk
from eval.bioasq_data import doc_qrels, load_bioasq, subset, to_doc_run
from eval.metrics import mrr_at_k, ndcg_at_k, percentiles, recall_at_k
from eval.shared import write_json
from index.dense import build_faiss
from index.embed import EmbeddingCache, TorchEmbedder, embed_cached, load_embedder, model_key
from index.lexical import Bm25Index
from index.loaded import LoadedIndex
from index.retrieve import search

RETRIEVERS = ("bm25", "dense", "hybrid")
DEFAULT_CACHE = Path.home() / ".cache" / "bala" / "bench-embeddings.sqlite"


def build_memory_index(corpus: dict, settings: Settings, cache_path: Path) -> tuple:
    """(loaded-like index, doc ids by row, timings) from the production components."""
    doc_ids = sorted(corpus)
    chunks = [make_chunk(f"pmid:{corpus[d]['pmid']}", corpus[d]["text"], 0, 0) for d in doc_ids]
    texts = [corpus[d]["text"] for d in doc_ids]
    started = time.perf_counter()
    cache = EmbeddingCache(cache_path)
    try:
        key = model_key(settings.index.model_id, settings.index.backend)
        vectors, computed = embed_cached(texts, key, cache, lambda: load_embedder(settings.index))
    finally:
        cache.close()
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    faiss_index = build_faiss(vectors, "flat")
    bm25 = Bm25Index.build(texts, settings.index.bm25_k1, settings.index.bm25_b)
    index_s = time.perf_counter() - started
    store = SimpleNamespace(chunks=chunks, sources={})  # what search reads of a store
    loaded = LoadedIndex(Path("(memory)"), None, store, faiss_index, bm25)
    timings = {"embed_s": embed_s, "embedded": computed, "index_s": index_s}
    return loaded, doc_ids, timings


def dir_encoder(model_dir: Path) -> TorchEmbedder:
    """A sentence-transformers folder (e.g. `bala train encoder`'s) on torch fp32, named by
    its weights' hash (so its vectors are cached apart from every other model's)."""
    from index.model import offline

    offline()
    weights = (Path(model_dir) / "model.safetensors").read_bytes()
    return TorchEmbedder(f"dir:{sha256(weights).hexdigest()[:16]}", 64, Path(model_dir))


def encoder_index(loaded, texts: list[str], encoder: TorchEmbedder, cache_path: Path):
    """The same passages and BM25 as `loaded`, with `encoder`'s vectors in FAISS."""
    cache = EmbeddingCache(cache_path)
    try:
        key = model_key(encoder.model_id, encoder.backend)
        vectors, _ = embed_cached(texts, key, cache, lambda: encoder)
    finally:
        cache.close()
    return LoadedIndex(
        Path("(memory)"), None, loaded.store, build_faiss(vectors, "flat"), loaded.bm25
    )


def _rankers(loaded, settings: Settings):
    """Each retriever as question -> [(row, score)], using the production query path."""
    embedder = load_embedder(settings.index)
    cfg = settings.retrieve
    only_dense = cfg.replace(bm25_weight=0.0, prf_docs=0)
    only_bm25 = cfg.replace(dense_weight=0.0, prf_docs=0)

    def run(config):
        return lambda q: [(h.row, h.score) for h in search(loaded, embedder.encode, q, config)[0]]

    return {"bm25": run(only_bm25), "dense": run(only_dense), "hybrid": run(cfg)}


def _encoder_rankers(loaded, encoder: TorchEmbedder, settings: Settings, retrievers) -> dict:
    """Dense and hybrid with a fine-tuned encoder, the production fusion settings unchanged."""
    cfg = settings.retrieve
    configs = {"dense": cfg.replace(bm25_weight=0.0, prf_docs=0), "hybrid": cfg}
    return {
        f"{name}+encoder": (
            lambda q, c=config: [(h.row, h.score) for h in search(loaded, encoder.encode, q, c)[0]]
        )
        for name, config in configs.items()
        if name in retrievers
    }


def evaluate_retriever(rank, queries, qrels, corpus, doc_ids, k=10) -> dict:
    """Snippet-level nDCG/Recall/MRR@k, document-level Recall@k and query latency."""
    run, latencies = {}, []
    for qid, text in queries.items():
        started = time.perf_counter()
        ranked = rank(text)[:k]
        latencies.append((time.perf_counter() - started) * 1000)
        run[qid] = {doc_ids[row]: score for row, score in ranked}
    lat = percentiles(latencies)
    return {
        "ndcg@10": ndcg_at_k(qrels, run, k),
        "recall@10": recall_at_k(qrels, run, k),
        "mrr@10": mrr_at_k(qrels, run, k),
        "doc_recall@10": recall_at_k(doc_qrels(qrels, corpus), to_doc_run(run, corpus), k),
        "latency_p50_ms": lat["p50"],
        "latency_p95_ms": lat["p95"],
    }


def subset_corpus(corpus: dict, qrels: dict, max_docs: int, seed: int = 0) -> dict:
    """The judged passages of `qrels` plus a fixed seeded sample of others, `max_docs` in all."""
    judged = {d for rels in qrels.values() for d in rels if d in corpus}
    others = sorted(set(corpus) - judged)
    rng = np.random.default_rng(seed)
    room = max(0, max_docs - len(judged))
    picked = rng.choice(len(others), size=min(room, len(others)), replace=False)
    keep = judged | {others[i] for i in picked}
    return {d: corpus[d] for d in sorted(keep)}


def pad_corpus(corpus: dict, n: int) -> dict:
    """The corpus grown to `n` passages with copies marked "(replicate k)" under their own ids
    and PMIDs (unjudged), so an engine is measured at a library size larger than BioASQ's own
    with real passage lengths and vocabulary. A corpus already of size n or more is returned."""
    doc_ids = sorted(corpus)
    padded = dict(corpus)
    for i in range(len(corpus), n):
        doc_id = doc_ids[i % len(doc_ids)]
        doc, copy = corpus[doc_id], i // len(doc_ids)
        padded[f"{doc_id}#r{copy}"] = {
            **doc,
            "text": f"{doc['text']} (replicate {copy})",
            "pmid": f"{doc['pmid']}r{copy}",
        }
    return padded


def bench_data(
    corpus_files: list[Path],
    query_files: list[Path],
    max_queries: int | None = None,
    max_docs: int | None = None,
    pad_to: int | None = None,
) -> tuple[dict, dict, dict]:
    """(corpus, queries, qrels) of a retrieval bench: the queries that have a judged passage
    (a fixed seeded subset of `max_queries`), the corpus cut to `max_docs` and padded to
    `pad_to` passages when asked."""
    corpus, queries, qrels = load_bioasq(corpus_files, query_files)
    if max_queries:
        queries, qrels = subset(queries, qrels, max_queries)
    queries = {q: t for q, t in queries.items() if q in qrels}
    if max_docs:
        corpus = subset_corpus(corpus, qrels, max_docs)
    if pad_to:
        corpus = pad_corpus(corpus, pad_to)
    return corpus, queries, qrels


def run_bioasq_bench(
    corpus_files: list[Path],
    query_files: list[Path],
    retrievers=RETRIEVERS,
    cache_path: Path = DEFAULT_CACHE,
    max_queries: int | None = None,
    settings: Settings | None = None,
    max_docs: int | None = None,
    encoder_dir: Path | None = None,
) -> dict:
    """The retrievers side by side; with `encoder_dir`, also dense and hybrid with that
    fine-tuned encoder (`dense+encoder`, `hybrid+encoder`) over the same passages."""
    settings = settings or load_settings()
    corpus, queries, qrels = bench_data(corpus_files, query_files, max_queries, max_docs)
    loaded, doc_ids, timings = build_memory_index(corpus, settings, cache_path)
    rankers = _rankers(loaded, settings)
    retrievers = tuple(retrievers)
    if encoder_dir is not None:
        encoder = dir_encoder(encoder_dir)
        texts = [corpus[d]["text"] for d in doc_ids]
        tuned = encoder_index(loaded, texts, encoder, cache_path)
        extra = _encoder_rankers(tuned, encoder, settings, retrievers)
        rankers.update(extra)
        retrievers += tuple(extra)
    results = {
        name: evaluate_retriever(rankers[name], queries, qrels, corpus, doc_ids)
        for name in retrievers
    }
    return {
        "corpus_passages": len(corpus),
        "queries": len(queries),
        "model": settings.index.model_id,
        "backend": settings.index.backend,
        "retrieve_settings": settings.retrieve.model_dump(),
        "encoder": _encoder_card(encoder_dir),
        "build": timings,
        "retrievers": results,
    }


def _encoder_card(encoder_dir: Path | None) -> dict | None:
    """The fine-tuned encoder's folder and card (what it was trained on), when one is given."""
    if encoder_dir is None:
        return None
    card = Path(encoder_dir) / "card.json"
    data = json.loads(card.read_text(encoding="utf-8")) if card.exists() else {}
    return {"dir": str(encoder_dir), "card": data}


def format_table(result: dict) -> str:
    head = "| retriever | nDCG@10 | Recall@10 | MRR@10 | doc Recall@10 | p50 ms | p95 ms |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for name, r in result["retrievers"].items():
        lines.append(
            f"| {name} | {r['ndcg@10']:.3f} | {r['recall@10']:.3f} | {r['mrr@10']:.3f} | "
            f"{r['doc_recall@10']:.3f} | {r['latency_p50_ms']:.1f} | {r['latency_p95_ms']:.1f} |"
        )
    b = result["build"]
    lines.append(
        f"\n{result['corpus_passages']} passages, {result['queries']} queries; embedding "
        f"{b['embed_s']:.1f} s ({b['embedded']} computed), FAISS+BM25 build {b['index_s']:.1f} s"
    )
    return "\n".join(lines)


def encoder_problem(encoder_dir: Path) -> str | None:
    """Why `encoder_dir` is not a sentence-transformers folder with safetensors weights."""
    for name in ("modules.json", "model.safetensors"):
        if not (encoder_dir / name).is_file():
            return f"{encoder_dir}: not a trained encoder folder ({name} is missing)"
    return None


def _cmd(args) -> int:
    retrievers = RETRIEVERS if args.retriever == "all" else (args.retriever,)
    problem = encoder_problem(Path(args.encoder)) if args.encoder else None
    if problem:
        print(f"error: {problem}")
        return 2
    try:
        result = run_bioasq_bench(
            [Path(p) for p in args.corpus],
            [Path(p) for p in args.queries],
            retrievers,
            Path(args.cache),
            args.max_queries,
            max_docs=args.max_docs,
            encoder_dir=Path(args.encoder) if args.encoder else None,
        )
    except ValueError as exc:  # a golden file that cannot be read, named by the loader
        print(f"error: {exc}")
        return 2
    write_json(result, args.json)
    print(format_table(result))
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("bioasq", help="BM25 vs dense vs hybrid on BioASQ golden sets")
    p.add_argument("--corpus", nargs="+", required=True, help="golden JSON files for the corpus")
    p.add_argument("--queries", nargs="+", required=True, help="golden JSON files for queries")
    p.add_argument("--retriever", choices=[*RETRIEVERS, "all"], default="all")
    p.add_argument("--max-queries", type=int, help="a fixed seeded subset of the queries")
    p.add_argument("--max-docs", type=int, help="judged passages plus a fixed sample, N in all")
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="embedding cache file")
    p.add_argument(
        "--encoder", metavar="DIR", help="also a fine-tuned encoder (`bala train encoder`)"
    )
    p.add_argument("--json", metavar="OUT")
    p.set_defaults(func=_cmd)
