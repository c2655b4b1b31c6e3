"""The BioASQ answer-bench library: every golden snippet of 7B-11B as an indexed passage.

`bala bench answers` and `bala train scorer` ask the real engine over a real index directory,
so what they measure is what `bala ask` does. Each snippet becomes one JSONL passage record
(pmid, section from `beginSection`, offset from `offsetInBeginSection`), ingested with the
production settings into a cache directory (kept between runs; a re-run is a no-op).

Questions come with their split: 7B-9B train the scorer, 10B tunes how its score is combined
with the other signals, 11B is reported and never trained or tuned on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings, load_settings
from eval.bioasq_data import golden_files, pmid_of

DEFAULT_DIR = Path.home() / ".cache" / "bala" / "bench-answers"
SPLITS = {"train": ("7B", "8B", "9B"), "tune": ("10B",), "report": ("11B",)}


@dataclass(frozen=True)
class BenchQuestion:
    qid: str
    body: str
    kind: str  # factoid | list | yesno | summary
    split: str  # train | tune | report
    exact: tuple[tuple[str, ...], ...]  # each answer item's synonyms (factoid/list)
    ideal: str  # first ideal answer (summary)
    gold_pmids: frozenset[str]


def split_of(path: Path) -> str | None:
    batch = re.match(r"(\d+B)", Path(path).name)
    for split, prefixes in SPLITS.items():
        if batch and batch.group(1) in prefixes:
            return split
    return None


def _exact_items(raw) -> tuple[tuple[str, ...], ...]:
    """exact_answer as items of synonyms: factoid [[a, b]] or [a]; list [[a], [b, c]]."""
    if raw is None or isinstance(raw, str):
        return ()
    items = []
    for item in raw:
        names = item if isinstance(item, list) else [item]
        names = tuple(n.strip() for n in names if isinstance(n, str) and n.strip())
        if names:
            items.append(names)
    return tuple(items)


def load_questions(files: list[Path] | None = None) -> list[BenchQuestion]:
    """Questions of the golden files with their split; the first occurrence of an id wins."""
    out, seen = [], set()
    for path in files or golden_files():
        split = split_of(path)
        if split is None:
            continue
        for q in json.loads(Path(path).read_text(encoding="utf-8"))["questions"]:
            if q["id"] in seen:
                continue
            seen.add(q["id"])
            ideal = q.get("ideal_answer") or [""]
            out.append(
                BenchQuestion(
                    q["id"],
                    q["body"],
                    q["type"],
                    split,
                    _exact_items(q.get("exact_answer")) if q["type"] in ("factoid", "list") else (),
                    ideal[0] if isinstance(ideal, list) else str(ideal),
                    frozenset(pmid_of(s["document"]) for s in q.get("snippets") or []),
                )
            )
    return out


def write_passages(files: list[Path], out: Path) -> int:
    """Gold snippets of all files as JSONL passage records; returns how many were written."""
    seen, lines = set(), []
    for path in files:
        for q in json.loads(Path(path).read_text(encoding="utf-8"))["questions"]:
            for s in q.get("snippets") or []:
                text = (s.get("text") or "").strip()
                pmid = pmid_of(s["document"])
                if not text or (pmid, text) in seen:
                    continue
                seen.add((pmid, text))
                section = "title" if s.get("beginSection") == "title" else "abstract"
                record = {"pmid": pmid, "section": section, "text": text}
                record["begin"] = int(s.get("offsetInBeginSection") or 0)
                lines.append(json.dumps(record, ensure_ascii=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def bench_settings(root: Path = DEFAULT_DIR, base: Settings | None = None) -> Settings:
    """The production settings over the bench library; its questions are about any disease,
    so a question naming none is not read as a B-ALL question (`answer.domain` = "")."""
    base = base or load_settings()
    return base.replace(index_dir=root / "index", answer={"domain": ""})


def ensure_library(root: Path = DEFAULT_DIR, files: list[Path] | None = None) -> Settings:
    """Index the 7B-11B gold snippets under `root` (incremental: unchanged input is a no-op)."""
    from index.build import ingest_paths

    files = [f for f in (files or golden_files()) if split_of(f)]
    settings = bench_settings(root)
    passages = root / "passages" / "bioasq-7b-11b.jsonl"
    if not passages.exists():
        write_passages(files, passages)
    report = ingest_paths([passages], settings)
    if report.failed:
        raise RuntimeError(f"could not index {passages}: {report.failed}")
    return settings


if __name__ == "__main__":
    print(ensure_library().index_dir)
