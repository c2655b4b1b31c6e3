"""`bala bench abstention`: calibrate the abstention thresholds on labelled questions.

The rule is core/abstain.decide, the one the engine uses: bala answers only when its best
evidence clears the bars (settings `min_cosine`, `min_overlap`, `min_answer`, and the fixed
`min_combined`): the cosine between the question and the best retrieved passage, the
IDF-weighted share of the question's content terms that the best sentence contains, and the
answer scorer's best probability. A question naming a drug, antigen or gene that no retrieved
passage mentions abstains whatever the bars (app/engine/coverage.py).

Labelled questions come from two places:
- the curated set (`answerable` as curated; eval/curated.jsonl);
- BioASQ dev questions over the indexed library. The demo library was cut from BioASQ gold
  snippets, so a question is *answerable* when one of its gold snippets comes from an indexed
  PubMed id, and *unanswerable* when none of its documents is indexed. The labels are noisy
  (another indexed paper may answer a question too), which is why the curated set constrains.

The grid search picks the pair that maximizes balanced accuracy ((answer rate on answerable +
abstain rate on unanswerable) / 2) over the BioASQ labels, among pairs that abstain on every
curated unanswerable question and answer at least `min_curated_answered` (0.97: all but one of
45) of the curated answerable ones; ties go to the stricter pair (higher cosine, then overlap).
The curated set is our own clinical ground truth, so it constrains; the ~2,300 BioASQ labels
rank. One borderline curated question (best cosine 0.46 with the int8 backend) is not allowed
to buy a bar that answers ~70 more BioASQ questions the library cannot answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from core.abstain import ANSWER, Strength, decide
from eval.bioasq_data import pmid_of

COSINE_GRID = tuple(round(float(x), 2) for x in np.arange(0.30, 0.70, 0.01))
OVERLAP_GRID = tuple(round(float(x), 2) for x in np.arange(0.0, 0.61, 0.05))
ANSWER_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def bioasq_labels(files: Iterable[Path], library_ids: set[str]) -> list[tuple[str, bool]]:
    """(question, answerable) for BioASQ questions whose label over the library is clear."""
    out, seen = [], set()
    for path in files:
        for q in json.loads(Path(path).read_text(encoding="utf-8")).get("questions", []):
            if q["id"] in seen:
                continue
            seen.add(q["id"])
            snippet_ids = {f"pmid:{pmid_of(s['document'])}" for s in q.get("snippets") or []}
            doc_ids = {f"pmid:{pmid_of(u)}" for u in q.get("documents") or []} | snippet_ids
            if snippet_ids & library_ids:
                out.append((q["body"], True))
            elif not doc_ids & library_ids:
                out.append((q["body"], False))
    return out


def answers(
    row: dict, min_cosine: float, min_overlap: float, min_combined=0.0, min_answer=0.0
) -> bool:
    """Whether bala answers a question with this evidence at these bars (core/abstain)."""
    strength = row.get("_strength") or Strength.from_json(row)
    return decide(strength, min_cosine, min_overlap, min_combined, min_answer) == ANSWER


def rates(
    rows: list[dict], min_cosine: float, min_overlap: float, min_combined=0.0, min_answer=0.0
) -> dict:
    """Answer rate on answerable rows, abstain rate on unanswerable rows, balanced accuracy."""
    bars = (min_cosine, min_overlap, min_combined, min_answer)
    pos = [answers(r, *bars) for r in rows if r["answerable"]]
    neg = [not answers(r, *bars) for r in rows if not r["answerable"]]
    answered = sum(pos) / len(pos) if pos else 1.0
    abstained = sum(neg) / len(neg) if neg else 1.0
    return {
        "answerable": len(pos),
        "unanswerable": len(neg),
        "answered_when_answerable": answered,
        "abstained_when_unanswerable": abstained,
        "balanced_accuracy": (answered + abstained) / 2,
    }


def calibrate(
    curated: list[dict],
    bioasq: list[dict],
    min_curated_answered: float = 0.97,
    cosine_grid: Iterable[float] = COSINE_GRID,
    overlap_grid: Iterable[float] = OVERLAP_GRID,
    answer_grid: Iterable[float] = (0.0,),
    min_combined: float = 0.0,
) -> dict:
    """The best (min_cosine, min_overlap, min_answer) under the curated constraints."""
    for row in curated + bioasq:
        row["_strength"] = Strength.from_json(row)
    best = None
    for cos in cosine_grid:
        for ovl in overlap_grid:
            for ans in answer_grid:
                bars = (cos, ovl, min_combined, ans)
                on_curated = rates(curated, *bars)
                if on_curated["abstained_when_unanswerable"] < 1.0:
                    continue
                if on_curated["answered_when_answerable"] < min_curated_answered:
                    continue
                on_bioasq = rates(bioasq, *bars)
                key = (round(on_bioasq["balanced_accuracy"], 6), cos, ovl, ans)
                chosen = {"min_cosine": cos, "min_overlap": ovl, "min_answer": ans}
                if best is None or key > best[0]:
                    best = (key, chosen, on_curated, on_bioasq)
    for row in curated + bioasq:
        row.pop("_strength", None)
    if best is None:
        return {"chosen": None, "reason": "no pair abstains on every curated unanswerable"}
    _, chosen, on_curated, on_bioasq = best
    return {"chosen": chosen, "curated": on_curated, "bioasq": on_bioasq}


def collect(questions: list[tuple[str, bool]], evidence: Callable[[str], dict]) -> list[dict]:
    """Evidence strength of each labelled question."""
    return [{"question": q, "answerable": a, **evidence(q)} for q, a in questions]


def run_calibration(fns, bioasq_files: list[Path], curated_path: Path | None = None) -> dict:
    """Collect evidence for both label sources, calibrate, and compare with the settings."""
    from eval.curated import DEFAULT_SET, load_eval_set

    curated_qs = [(q.question, q.answerable) for q in load_eval_set(curated_path or DEFAULT_SET)]
    curated = collect(curated_qs, fns.evidence)
    bioasq = collect(bioasq_labels(bioasq_files, fns.source_ids()), fns.evidence)
    cfg = fns.answer_settings
    answer_grid = ANSWER_GRID if getattr(cfg, "scorer", "legacy") != "legacy" else (0.0,)
    result = calibrate(curated, bioasq, answer_grid=answer_grid, min_combined=cfg.min_combined)
    bars = (cfg.min_cosine, cfg.min_overlap, cfg.min_combined, getattr(cfg, "min_answer", 0.0))
    result["current"] = {
        "min_cosine": cfg.min_cosine,
        "min_overlap": cfg.min_overlap,
        "min_answer": bars[3],
        "curated": rates(curated, *bars),
        "bioasq": rates(bioasq, *bars),
    }
    result["build_id"] = fns.build_id
    result["rows"] = {"curated": curated, "bioasq": bioasq}
    return result
