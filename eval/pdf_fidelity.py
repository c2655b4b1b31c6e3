"""PDF extraction fidelity: how faithfully the parser recovers a PDF's words.

Word-level similarity is `difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()`
over the whitespace-split word lists of the extracted text (all pages joined) and of the
truth text: 2*M/T, where M counts words in matching blocks and T both lists' lengths.
1.0 means the same words in the same order; layout whitespace does not count, while a
lost word, a leftover header, a word left split ('experi- encing') or a column read out
of order all lower it. The bench folder holds PDFs and `truth.json`, a list of
{"pdf", "text", "running_header", "footer"} entries.

`bala bench pdf [--folder DIR] [--json OUT] [--min 0.98]` prints the report.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from pathlib import Path

from eval.shared import shared_folder

DEFAULT_MIN = 0.98


def default_bench_folder() -> Path:
    return shared_folder() / "bench" / "pdf-fidelity"


def word_similarity(extracted: str, truth: str) -> float:
    """SequenceMatcher ratio over whitespace-split words (1.0 = identical word lists)."""
    a, b = extracted.split(), truth.split()
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _default_parser() -> Callable:
    from ingest.pdf import parse_pdf

    return parse_pdf


def score_pdf(parser: Callable, pdf: Path, entry: dict) -> dict:
    """Scores of one PDF against its truth entry."""
    started = time.perf_counter()
    parsed = parser(pdf)
    text = "\n".join(parsed.pages)
    result = {
        "word_similarity": round(word_similarity(text, entry["text"]), 6),
        "words": len(text.split()),
        "truth_words": len(entry["text"].split()),
        "pages": len(parsed.pages),
        "seconds": round(time.perf_counter() - started, 3),
    }
    for key in ("running_header", "footer"):
        if entry.get(key):
            result[f"{key}_removed"] = entry[key] not in text
    return result


def fidelity_report(folder: Path | str | None = None, parser: Callable | None = None) -> dict:
    """Per-PDF word similarity (and header/footer removal) over a bench folder, with min
    and mean. `parser` is a PDFParserFn (default: the sandboxed `ingest.pdf.parse_pdf`)."""
    folder = Path(folder) if folder else default_bench_folder()
    parser = parser or _default_parser()
    entries = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    pdfs: dict[str, dict] = {}
    for entry in entries:
        try:
            pdfs[entry["pdf"]] = score_pdf(parser, folder / entry["pdf"], entry)
        except Exception as exc:  # noqa: BLE001 - a failed parse scores 0 and says why
            pdfs[entry["pdf"]] = {"word_similarity": 0.0, "error": str(exc)}
    scores = [r["word_similarity"] for r in pdfs.values()]
    return {
        "folder": str(folder),
        "metric": "difflib SequenceMatcher ratio over whitespace-split words",
        "pdfs": pdfs,
        "min": min(scores) if scores else 0.0,
        "mean": round(sum(scores) / len(scores), 6) if scores else 0.0,
    }


def _cmd_pdf(args) -> int:
    report = fidelity_report(args.folder)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if report["pdfs"] and report["min"] >= args.min else 1


def register_bench(bench_sub) -> None:
    """Add `bala bench pdf` to the bench subcommands."""
    p = bench_sub.add_parser("pdf", help="PDF extraction fidelity (word-level similarity)")
    p.add_argument("--folder", help="PDFs + truth.json (default: shared/bench/pdf-fidelity)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    p.add_argument("--min", type=float, default=DEFAULT_MIN, help="fail below this score")
    p.set_defaults(func=_cmd_pdf)
