"""`bala bench ingest`: embedding throughput and quality, baseline vs bala, and incremental cost.

Throughput: the first N BioASQ passages (sorted doc ids, deduplicated), embedded in a child
process per variant so peak memory (ru_maxrss) is the variant's own. Quality: dense nDCG@10
of each variant's vectors on the dev queries judged within those passages.
Incremental: an index of 30,000 passages (every BioASQ passage, then marked copies) plus one
real 10-page journal PDF (pages of the shared
PDF-fidelity packets, merged), parsed in its sandbox and timed with a warm model in this
process; then a re-ingest of unchanged inputs.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bioasq_data import golden_files, load_bioasq
from eval.metrics import ndcg_at_k
from eval.shared import print_result, run_in_child

VARIANTS = ("baseline", "bala")


def _child(variant: str, texts_path: str, out_path: str, backend: str) -> None:
    """Runs in a fresh interpreter: embed, save vectors, print timing and peak memory."""
    texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    if variant == "baseline":
        from sentence_transformers import SentenceTransformer

        from index.embed import bundled_model_path

        model = SentenceTransformer(
            str(bundled_model_path()), device="cpu", model_kwargs={"use_safetensors": True}
        )
        model.encode(texts[:8])
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=128, normalize_embeddings=True)
    else:
        from core.settings import load_settings
        from index.embed import load_embedder

        embedder = load_embedder(load_settings().index.replace(backend=backend))
        embedder.encode(texts[:8])
        started = time.perf_counter()
        vectors = embedder.encode(texts)
    seconds = time.perf_counter() - started
    np.save(out_path, np.asarray(vectors, dtype=np.float32))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


def _measure(
    variant: str, texts: list[str], backend: str, workdir: Path
) -> tuple[dict, np.ndarray]:
    texts_path, out_path = workdir / "texts.json", workdir / f"{variant}.npy"
    texts_path.write_text(json.dumps(texts), encoding="utf-8")
    args = (variant, str(texts_path), str(out_path), backend)
    stats = run_in_child("eval.bench_ingest", "_child", *args, timeout=3600)
    stats["passages_per_s"] = len(texts) / stats["seconds"]
    return stats, np.load(out_path, allow_pickle=False)


def dense_ndcg(vectors: np.ndarray, query_vectors: np.ndarray, doc_ids, qids, qrels) -> float:
    """nDCG@10 of exact inner-product search with the given vectors."""
    scores = query_vectors @ vectors.T
    run = {}
    for i, qid in enumerate(qids):
        top = np.argsort(-scores[i])[:10]
        run[qid] = {doc_ids[j]: float(scores[i, j]) for j in top}
    return ndcg_at_k(qrels, run, 10)


def throughput_and_quality(passages: int, backend: str) -> dict:
    files = golden_files()
    corpus, queries, qrels = load_bioasq(files, files)
    doc_ids = sorted(corpus)[:passages]
    kept = set(doc_ids)
    qrels = {q: {d: g for d, g in r.items() if d in kept} for q, r in qrels.items()}
    qrels = {q: r for q, r in qrels.items() if r}
    qids = sorted(qrels)
    texts = [corpus[d]["text"] for d in doc_ids]
    out: dict = {"passages": len(texts), "queries": len(qids), "backend": backend}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            stats, vectors = _measure(variant, texts, backend, Path(tmp))
            _, qvec = _measure(variant, [queries[q] for q in qids], backend, Path(tmp))
            stats["ndcg@10"] = dense_ndcg(vectors, qvec, doc_ids, qids, qrels)
            out[variant] = stats
            out.setdefault("_vectors", {})[variant] = vectors
    vecs = out.pop("_vectors")
    cos = np.sum(vecs["baseline"] * vecs["bala"], axis=1)
    out["cosine_to_baseline"] = {"mean": float(cos.mean()), "min": float(cos.min())}
    out["speed_ratio"] = out["bala"]["passages_per_s"] / out["baseline"]["passages_per_s"]
    out["ndcg_delta"] = out["bala"]["ndcg@10"] - out["baseline"]["ndcg@10"]
    return out


INDEX_PASSAGES = 30_000  # the "30k-passage index"


def index_records(corpus: dict, n: int) -> list[dict]:
    """n passage records: every BioASQ passage once (sorted ids), then copies marked
    "(replicate k)" with their own PMIDs until there are n, so the index has the size asked
    for with real passage lengths and vocabulary."""
    doc_ids = sorted(corpus)
    records = []
    for i in range(n):
        doc = corpus[doc_ids[i % len(doc_ids)]]
        copy = i // len(doc_ids)
        text = doc["text"] if copy == 0 else f"{doc['text']} (replicate {copy})"
        pmid = doc["pmid"] if copy == 0 else f"{doc['pmid']}r{copy}"
        records.append({"pmid": pmid, "section": "abstract", "text": text})
    return records


def incremental_cost(backend: str, passages: int = INDEX_PASSAGES) -> dict:
    """Seconds to add one 10-page document to a BioASQ index, and to re-ingest unchanged."""
    from core.settings import load_settings
    from index.build import ingest_paths
    from index.embed import load_embedder

    files = golden_files()
    corpus, _, _ = load_bioasq(files, files)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = [json.dumps(r) for r in index_records(corpus, passages)]
        (root / "lib").mkdir()
        (root / "lib" / "bioasq.jsonl").write_text("\n".join(lines), encoding="utf-8")
        base = load_settings(root / "index")
        settings = base.replace(index={"backend": backend})
        load_embedder(settings.index).encode(["warm up"])
        started = time.perf_counter()
        first = ingest_paths([root / "lib"], settings)
        build_s = time.perf_counter() - started
        (root / "new").mkdir()
        paper = ten_page_pdf(root / "new" / "paper.pdf")
        pages = _page_count(paper)
        started = time.perf_counter()
        added = ingest_paths([root / "lib", paper.parent], settings)
        add_s = time.perf_counter() - started
        started = time.perf_counter()
        again = ingest_paths([root / "lib", paper.parent], settings)
        noop_s = time.perf_counter() - started
    return {
        "paper": paper.name,
        "paper_pages": pages,
        "index_passages": passages,
        "index_passages_distinct_bioasq": min(passages, len(corpus)),
        "index_chunks": first.added_chunks,
        "initial_build_s": build_s,
        "initial_build_passages_per_s": passages / build_s,  # the whole ingest path, fresh cache
        "add_one_paper_s": add_s,
        "add_one_paper_embedded": added.embedded_chunks,
        "reingest_unchanged_s": noop_s,
        "reingest_changed": again.changed,
        "targets": {"add_one_paper_s": 3.0, "reingest_unchanged_s": 2.0},
    }


def ten_page_pdf(path: Path, pages: int = 10) -> Path:
    """A real 10-page journal PDF: pages of the shared PDF-fidelity packets, merged with pypdf.

    Falls back to a plain-text paper of ten pages' length when the shared folder is absent.
    """
    from pypdf import PdfReader, PdfWriter

    from eval.pdf_fidelity import default_bench_folder

    packets = sorted(default_bench_folder().glob("packet-*.pdf"))
    if not packets:
        text_path = path.with_suffix(".txt")
        text_path.write_text(_ten_pages(), encoding="utf-8")
        return text_path
    writer = PdfWriter()
    while len(writer.pages) < pages:
        for packet in packets:
            for page in PdfReader(packet).pages:
                if len(writer.pages) < pages:
                    writer.add_page(page)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def _page_count(path: Path) -> int | None:
    if path.suffix != ".pdf":
        return None
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def _ten_pages() -> str:
    """About ten pages of distinct sentences (3,000 characters a page)."""
    sentences = [
        f"In cohort {i}, relapse after CD19-directed therapy occurred in {i % 40 + 5}% of "
        f"patients, and minimal residual disease at day {28 + i % 60} predicted outcome."
        for i in range(220)
    ]
    return "\n\n".join(" ".join(sentences[i : i + 20]) for i in range(0, 220, 20))


def run_ingest_bench(
    passages: int = 5000,
    backend: str | None = None,
    incremental=True,
    index_passages: int = INDEX_PASSAGES,
    throughput=True,
) -> dict:
    from core.settings import load_settings

    backend = backend or load_settings().index.backend
    result = {}
    if throughput:
        result["throughput"] = throughput_and_quality(passages, backend)
    if incremental:
        result["incremental"] = incremental_cost(backend, index_passages)
    return result


def _cmd(args) -> int:
    result = run_ingest_bench(
        args.passages,
        args.backend,
        not args.no_incremental,
        args.index_passages,
        not args.no_throughput,
    )
    print_result(result, args.json)
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser(
        "ingest", help="embedding speed/quality vs plain sentence-transformers"
    )
    p.add_argument("--passages", type=int, default=5000, help="first N BioASQ passages")
    p.add_argument("--backend", help="bala's backend to measure (default: the setting)")
    p.add_argument("--no-incremental", action="store_true", help="skip the incremental timings")
    p.add_argument("--no-throughput", action="store_true", help="only the incremental timings")
    p.add_argument(
        "--index-passages",
        type=int,
        default=INDEX_PASSAGES,
        help="size of the index a paper is added to (default 30000)",
    )
    p.add_argument("--json", metavar="OUT")
    p.set_defaults(func=_cmd)
