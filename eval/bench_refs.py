"""`bala bench refs`: reference lists, citation links and resolution against ground truth.

- PDFs (`bench/references/*.pdf` + truth.json): entries recovered with the right number and
  text; citation links (sentence, number) against the truth's sentences.
- JATS (`fixtures/jats/*.nxml` of the same articles): the same, through `ingest.jats`.
- Resolution: a test library (eval/refs_library.py) holding some truth references and not
  others; right, wrong and unresolved counts at the resolver's threshold.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from core.types import Citation, Document

TRUTH = "truth.json"


def norm(text: str) -> str:
    """Whitespace collapsed (the comparison the truth's README describes)."""
    return " ".join(text.split())


def loose(text: str) -> str:
    """Letters and digits only, lower case (hyphenation and spacing differences ignored)."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


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
    from ingest.loaders import load_pdf

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
    out, ok, total, pred_all, true_all = {}, 0, 0, Counter(), Counter()
    for name, t in sorted(truth.items()):
        path = jats_dir / Path(t["source_jats"]).name
        try:
            docs = _load_jats(jats_loader, path)
        except Exception as exc:  # noqa: BLE001 - report, do not crash the bench
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        doc = docs[0]
        refs = score_references(doc.references, t["references"])
        true = truth_links(t["citations"])
        pred = Counter()
        for cit in doc.citations:
            sentence = loose(doc.text[cit.start : cit.end])
            for n in cit.numbers:
                pred[(sentence, n)] += 1
        out[name] = {"references": refs, "citations": score_links(pred, true)}
        ok, total = ok + refs["exact"], total + refs["truth"]
        pred_all += Counter({(name, *k): v for k, v in pred.items()})
        true_all += Counter({(name, *k): v for k, v in true.items()})
    overall = score_links(pred_all, true_all)
    overall.pop("missed"), overall.pop("extra")
    return {
        "files": out,
        "references_exact_rate": round(ok / max(1, total), 4),
        "citations": overall,
    }


def _load_jats(module, path: Path) -> list[Document]:
    """Documents from the JATS loader, whichever entry point it offers."""
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
        "refextract": bench_refextract(folder, docs),
        "targets": {
            "pdf_references_exact_rate": ">= 0.95",
            "pdf_citation_precision": ">= 0.95",
            "pdf_citation_recall": ">= 0.90",
            "resolution_right_rate": ">= 0.95 with 0 wrong",
        },
    }


REFEXTRACT_ENV = "BALA_REFEXTRACT_PATH"  # a separate site dir: refextract pins pypdf<7
_REFEXTRACT_CHILD = """
import json, sys
from refextract import extract_references_from_string
out = {}
for name, text in json.load(sys.stdin).items():
    out[name] = extract_references_from_string(text)
json.dump(out, sys.stdout)
"""


def bench_refextract(folder: Path, docs: dict[str, Document]) -> dict:
    """refextract (INSPIRE's maintained parser) on the same reference-section text as ours,
    run in a child process from `$BALA_REFEXTRACT_PATH` (it cannot share bala's venv: it
    requires pypdf < 7). Scores entries by number and text and years, as for ours."""
    import importlib.util
    import os
    import subprocess
    import sys

    from ingest.references import reference_section

    path = os.environ.get(REFEXTRACT_ENV, "")
    if not path and importlib.util.find_spec("refextract") is None:
        return {"status": f"refextract not installed (set {REFEXTRACT_ENV} to a site dir)"}
    sections = {}
    for name, doc in docs.items():
        span = reference_section(doc.text)
        sections[name] = "References\n" + doc.text[span[0] : span[1]] if span else ""
        # and our own segmentation, one entry per line: refextract's field parsing alone
        lines = "\n".join(f"{r.n}. {r.text}" for r in doc.references)
        sections[name + "#our-lines"] = "References\n" + lines
    env = {**os.environ, "PYTHONPATH": path} if path else dict(os.environ)
    run = subprocess.run(
        [sys.executable, "-c", _REFEXTRACT_CHILD],
        input=json.dumps(sections),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if run.returncode != 0:
        return {"status": f"refextract failed: {run.stderr.strip().splitlines()[-1:]}"}
    found = json.loads(run.stdout)
    stored = _score_refextract(found, folder, docs, "")
    lines = _score_refextract(found, folder, docs, "#our-lines")
    return {"on_stored_text": stored, "on_bala_entry_lines": lines}


def _score_refextract(found: dict, folder: Path, docs: dict[str, Document], suffix: str) -> dict:
    truth = json.loads((folder / TRUTH).read_text(encoding="utf-8"))
    tally = Counter()
    for name, t in truth.items():
        theirs: dict[int, dict] = {}
        for item in found.get(name + suffix, []):
            marker = (item.get("linemarker") or [""])[0]
            if marker.isdigit():
                theirs.setdefault(int(marker), item).setdefault("years", []).extend(
                    item.get("year", [])
                )
        ours = {r.n: r for r in docs[name].references}
        for ref in t["references"]:
            tally["truth"] += 1
            item = theirs.get(ref["n"])
            raw = re.sub(r"^\s*\[?\d+[.\]]?\s*", "", item["raw_ref"][0]) if item else ""
            tally["refextract_exact"] += norm(raw) == norm(ref["printed"])
            tally["refextract_loose"] += bool(raw) and loose(raw) == loose(ref["printed"])
            tally["refextract_year"] += bool(item) and ref["year"] in (item or {}).get("years", [])
            mine = ours.get(ref["n"])
            tally["bala_year"] += bool(mine) and str(mine.year) == ref["year"]
    out = dict(tally)
    for key in ("refextract_exact", "refextract_loose", "refextract_year", "bala_year"):
        out[key + "_rate"] = round(tally[key] / max(1, tally["truth"]), 4)
    return out
