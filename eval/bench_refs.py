"""`bala bench refs`: reference lists, citation links and resolution against ground truth.

- PDFs (`bench/references/*.pdf` + truth.json): entries recovered with the right number and
  text; citation links (sentence, number) against the truth's sentences.
- JATS (`fixtures/jats/*.nxml` of the same articles): the same, through `ingest.jats`.
- Resolution: a test library (eval/refs_library.py) holding some truth references and not
  others; right, wrong and unresolved counts at the resolver's threshold.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from core.types import Citation, Document
from eval.refs_text import TRUTH, loose, norm


def score_references(found, truth_refs: list[dict]) -> dict:
    """Truth entries matched by number and text: exact after whitespace normalization, and
    loose (hyphens, spaces and punctuation ignored)."""
    by_n = {r.n: r for r in found}
    exact = sum(
        1 for t in truth_refs if t["n"] in by_n and norm(by_n[t["n"]].text) == norm(t["printed"])
    )
    lax = sum(
        1 for t in truth_refs if t["n"] in by_n and loose(by_n[t["n"]].text) == loose(t["printed"])
    )
    wrong = [
        {"n": t["n"], "found": by_n[t["n"]].text if t["n"] in by_n else None, "truth": t["printed"]}
        for t in truth_refs
        if t["n"] not in by_n or norm(by_n[t["n"]].text) != norm(t["printed"])
    ]
    return {
        "truth": len(truth_refs),
        "found": len(found),
        "exact": exact,
        "loose": lax,
        "exact_rate": round(exact / max(1, len(truth_refs)), 4),
        "loose_rate": round(lax / max(1, len(truth_refs)), 4),
        "mismatches": wrong[:40],
    }


def sentence_without_marks(text: str, citations: tuple[Citation, ...], cit: Citation) -> str:
    from ingest.citation_marks import strip_marks

    marks = [
        (c.marker_start, c.marker_end)
        for c in citations
        if c.start == cit.start and c.end == cit.end and c.marker_start >= 0
    ]
    return strip_marks(text, cit.start, cit.end, marks)


def predicted_links(doc: Document) -> Counter:
    links: Counter = Counter()
    for cit in doc.citations:
        sentence = loose(sentence_without_marks(doc.text, doc.citations, cit))
        for n in cit.numbers:
            links[(sentence, n)] += 1
    return links


def truth_links(truth_citations: list[dict]) -> Counter:
    links: Counter = Counter()
    for cit in truth_citations:
        for n in cit["numbers"]:
            links[(loose(cit["context"]), n)] += 1
    return links


def score_links(predicted: Counter, truth: Counter) -> dict:
    """Precision and recall of (sentence, number) links, counted with multiplicity."""
    hit = sum((predicted & truth).values())
    n_pred, n_true = sum(predicted.values()), sum(truth.values())
    missed = list((truth - predicted).elements())[:40]
    extra = list((predicted - truth).elements())[:40]
    return {
        "predicted": n_pred,
        "truth": n_true,
        "correct": hit,
        "precision": round(hit / n_pred, 4) if n_pred else 0.0,
        "recall": round(hit / n_true, 4) if n_true else 0.0,
        "missed": [[s[:80], n] for s, n in missed],
        "extra": [[s[:80], n] for s, n in extra],
    }


def pdf_document(path: Path) -> Document:
    """The document `bala ingest` stores for a PDF (parsed in process), with its references."""
    from core.settings import load_settings
    from ingest.pdf_document import load_pdf

    settings = load_settings(None).ingest
    return load_pdf(path, "", settings)


def bench_pdfs(folder: Path, docs: dict[str, Document]) -> dict:
    truth = json.loads((folder / TRUTH).read_text(encoding="utf-8"))
    per_file, ref_ok, ref_all, pred_all, true_all = {}, 0, 0, Counter(), Counter()
    for name, t in sorted(truth.items()):
        doc = docs[name]
        refs = score_references(doc.references, t["references"])
        pred, true = predicted_links(doc), truth_links(t["citations"])
        links = score_links(pred, true)
        per_file[name] = {"references": refs, "citations": links}
        ref_ok += refs["exact"]
        ref_all += refs["truth"]
        pred_all += Counter({(name, *k): v for k, v in pred.items()})
        true_all += Counter({(name, *k): v for k, v in true.items()})
    overall = score_links(pred_all, true_all)
    overall.pop("missed"), overall.pop("extra")
    return {
        "files": per_file,
        "references_exact_rate": round(ref_ok / max(1, ref_all), 4),
        "citations": overall,
    }


CALIBRATION = ("pone.0046493.pdf",)  # the threshold was read off this article's scores


def bench_resolution(folder: Path, jats_dir: Path, pubmed_dir: Path, docs: dict) -> dict:
    """Resolve every recovered reference of each PDF against the test library."""
    from eval.refs_library import build_library
    from index.resolve import THRESHOLD, Library, resolve_reference

    truth = json.loads((folder / TRUTH).read_text(encoding="utf-8"))
    sources, expected = build_library(truth, jats_dir, pubmed_dir)
    library = Library(sources)
    splits: dict[str, dict] = {}
    for name, doc in sorted(docs.items()):
        split = "calibration" if name in CALIBRATION else "held_out"
        s = splits.setdefault(split, Counter())
        right_scores, other_scores = [], []
        for ref in doc.references:
            res = resolve_reference(ref, library)
            want = expected.get((name, ref.n))
            probe = res.source_id or res.best_candidate
            (right_scores if want and probe == want else other_scores).append(res.score)
            s["in_library"] += want is not None
            s["left_out"] += want is None
            s["right"] += want is not None and res.source_id == want
            s["wrong"] += res.source_id is not None and res.source_id != want
            s["unresolved_in_library"] += want is not None and res.source_id is None
            s["left_out_unresolved"] += want is None and res.source_id is None
        s.setdefault("min_right_score", 1.0)
        s["min_right_score"] = min([s["min_right_score"], *right_scores])
        s["max_other_score"] = max([s.get("max_other_score", 0.0), *other_scores])
    out = {"threshold": THRESHOLD, "library_sources": len(sources)}
    for split, s in splits.items():
        s = dict(s)
        s["right_rate"] = round(s["right"] / max(1, s["in_library"]), 4)
        out[split] = s
    return out


def bench_jats(jats_dir: Path, folder: Path) -> dict:
    """The JATS half: the same articles through `ingest.jats` (another module's loader)."""
    try:
        from ingest import jats as jats_loader
    except ImportError:
        return {"status": "jats loader not available"}
    truth = json.loads((folder / TRUTH).read_text(encoding="utf-8"))
    out, ok, total, tally = {}, 0, 0, Counter()
    for name, t in sorted(truth.items()):
        path = jats_dir / Path(t["source_jats"]).name
        try:
            docs = _load_jats(jats_loader, path)
        except Exception as exc:  # noqa: BLE001 - report, do not crash the bench
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        doc, in_floats = without_float_citations(docs[0], jats_loader.float_spans(docs[0]))
        refs = score_jats_references(doc.references, t["references"])
        truth_keys = {r["n"]: r["jats_ref_id"] for r in t["references"] if r.get("jats_ref_id")}
        links = fuzzy_links(doc, t["citations"], truth_keys)
        links["in_figures_tables"] = in_floats  # kept by the loader, not scored
        out[name] = {"references": refs, "citations": links}
        refs["exact"] = refs["right"]
        for key in ("predicted", "truth", "correct"):
            tally[key] += links[key]
        ok, total = ok + refs["right"], total + refs["truth"]
    overall = dict(tally)
    overall["precision"] = round(tally["correct"] / max(1, tally["predicted"]), 4)
    overall["recall"] = round(tally["correct"] / max(1, tally["truth"]), 4)
    return {
        "files": out,
        "references_right_rate": round(ok / max(1, total), 4),
        "citations": overall,
    }


def without_float_citations(doc: Document, floats: list[tuple[int, int]]) -> tuple:
    """The document with only the citations the rendered PDFs print: the truth leaves out
    figures, tables, their captions and footnotes (bench/references/README.md), so the
    loader's citations inside those blocks are counted apart rather than scored."""
    inside = [c for c in doc.citations if any(s <= c.start < e for s, e in floats)]
    kept = tuple(c for c in doc.citations if c not in inside)
    return replace(doc, citations=kept), sum(len(c.numbers) for c in inside)


def score_jats_references(found, truth_refs: list[dict]) -> dict:
    """A JATS entry is right when the loader kept the truth's <ref id> (a JATS list is
    numbered in its own order: an author-year journal lists refs alphabetically, and the
    rendered PDF renumbered them by first citation) or, without a key, the same words."""
    by_key = {r.key: r for r in found if r.key}
    texts = {loose(r.text) for r in found if not r.key}
    right = sum(1 for t in truth_refs if t["jats_ref_id"] in by_key or loose(t["printed"]) in texts)
    total = len(truth_refs)
    return {
        "truth": total,
        "found": len(found),
        "right": right,
        "right_rate": round(right / max(1, total), 4),
    }


def fuzzy_links(
    doc: Document, truth_citations: list[dict], truth_keys: dict, min_ratio: float = 85.0
) -> dict:
    """(sentence, reference) links where the sentences may differ in wording around the marks
    (JATS text keeps author-year citation text that the rendered PDF drops): a predicted
    link matches an unused truth link to the same reference (compared by JATS ref id, since
    the PDF numbers them its own way) whose sentence is similar."""
    from rapidfuzz import fuzz

    key_of = {r.n: r.key or str(r.n) for r in doc.references}
    predicted = [
        (loose(sentence_without_marks(doc.text, doc.citations, c)), key_of.get(n, str(n)))
        for c in doc.citations
        for n in c.numbers
    ]
    pool: dict[str, list[str]] = {}
    for c in truth_citations:
        for n in c["numbers"]:
            pool.setdefault(truth_keys.get(n, str(n)), []).append(loose(c["context"]))
    correct = 0
    for sentence, n in predicted:
        options = pool.get(n, [])
        scores = [fuzz.partial_ratio(t, sentence) if t else 0.0 for t in options]
        if scores and max(scores) >= min_ratio:
            options.pop(scores.index(max(scores)))
            correct += 1
    n_true = sum(len(c["numbers"]) for c in truth_citations)
    return {
        "predicted": len(predicted),
        "truth": n_true,
        "correct": correct,
        "precision": round(correct / max(1, len(predicted)), 4),
        "recall": round(correct / max(1, n_true), 4),
    }


def _load_jats(module, path: Path) -> list[Document]:
    """Documents from the JATS loader: through `ingest.loaders.load_file` when it takes the
    file's extension (as `bala ingest` would), else whichever entry point the module offers."""
    from core.settings import load_settings
    from ingest.loaders import SUPPORTED, load_file

    if path.suffix.lower() in SUPPORTED:
        return list(load_file(path, "", load_settings(None).ingest).documents)
    for name in ("load_jats", "load_file", "parse_jats"):
        fn = getattr(module, name, None)
        if fn is None:
            continue
        try:
            result = fn(path, "")
        except TypeError:
            result = fn(path)
        docs = getattr(result, "documents", result)
        return list(docs) if isinstance(docs, (list, tuple)) else [docs]
    raise ImportError("ingest.jats offers no load_jats/load_file/parse_jats")


def run_bench_refs(shared: Path) -> dict:
    """The whole `bala bench refs` report (JSON-ready)."""
    from eval.refextract_compare import bench_refextract

    folder = shared / "bench" / "references"
    jats_dir, pubmed_dir = shared / "fixtures" / "jats", shared / "fixtures" / "pubmed"
    if not (folder / TRUTH).exists():
        raise FileNotFoundError(f"{folder / TRUTH}: not found (the shared bench data)")
    truth = json.loads((folder / TRUTH).read_text(encoding="utf-8"))
    docs = {name: pdf_document(folder / name) for name in sorted(truth)}
    pdfs = bench_pdfs(folder, docs)
    return {
        "pdf": pdfs,
        "jats": bench_jats(jats_dir, folder),
        "resolution": bench_resolution(folder, jats_dir, pubmed_dir, docs),
        "refextract": bench_refextract(folder, docs),  # eval/refextract_compare.py
        "targets": {
            "pdf_references_exact_rate": ">= 0.95",
            "pdf_citation_precision": ">= 0.95",
            "pdf_citation_recall": ">= 0.90",
            "resolution_right_rate": ">= 0.95 with 0 wrong",
            "jats_references_right_rate": "1.0",
            "jats_citation_precision_recall": "1.0 (figures and tables apart)",
        },
    }


def targets_met(result: dict) -> bool:
    """The issue's PDF, JATS and resolution targets."""
    pdf, res, jats = result["pdf"], result["resolution"], result["jats"]
    held = [res[s] for s in ("calibration", "held_out") if s in res]
    jats_ok = "citations" not in jats or (
        jats["references_right_rate"] == 1.0
        and jats["citations"]["precision"] == 1.0
        and jats["citations"]["recall"] == 1.0
    )
    return (
        jats_ok
        and pdf["references_exact_rate"] >= 0.95
        and pdf["citations"]["precision"] >= 0.95
        and pdf["citations"]["recall"] >= 0.90
        and all(s["wrong"] == 0 and s["right_rate"] >= 0.95 for s in held)
    )


def _cmd_refs(args) -> int:
    from eval.shared import print_result, shared_folder

    shared = Path(args.shared) if args.shared else shared_folder()
    try:
        result = run_bench_refs(shared)
    except FileNotFoundError as exc:
        print(f"bala: {exc}")
        return 1
    print_result(result, args.json)
    return 0 if targets_met(result) else 1


def register_bench(bench_sub) -> None:
    """Add `bala bench refs` to the bench subcommands."""
    p = bench_sub.add_parser("refs", help="reference lists, citation links and resolution")
    p.add_argument("--shared", help="the shared data folder (default: $BALA_SHARED or ../shared)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    p.set_defaults(func=_cmd_refs)
