"""`bala eval`: run the curated question set through the answer engine and score it.

The engine is passed in as plain functions (eval never imports app/): `ask(question) -> dict`
in the `bala ask --json` shape, `rank_sources(question) -> [source_id]` in retrieval order, and
`stored_slice(source_id, start, end) -> str` to check each quote against the stored text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eval.metrics import (
    abstention_scores,
    best_gold_rank,
    citation_precision,
    percentiles,
    quote_faithfulness,
    source_mrr_at_k,
    source_ndcg_at_k,
    source_recall_at_k,
)

DEFAULT_SET = Path(__file__).resolve().parent / "curated.jsonl"


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answerable: bool
    gold_source_ids: tuple[str, ...]
    key_phrases: tuple[str, ...] = ()
    topic: str = ""


def load_eval_set(path: Path = DEFAULT_SET) -> list[EvalQuestion]:
    """Questions of a JSONL eval set (schema in eval/README.md)."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            out.append(
                EvalQuestion(
                    id=str(raw["id"]),
                    question=raw["question"],
                    answerable=bool(raw["answerable"]),
                    gold_source_ids=tuple(raw.get("gold_source_ids") or ()),
                    key_phrases=tuple(raw.get("key_phrases") or ()),
                    topic=raw.get("topic", ""),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: line {number}: {exc}") from exc
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def evaluate_question(q: EvalQuestion, ask, rank_sources, stored_slice, k: int) -> dict:
    """One question's outcome: ranks, quotes, citations, abstention and latency."""
    started = time.perf_counter()
    answer = ask(q.question)
    latency = (time.perf_counter() - started) * 1000
    ranked = list(dict.fromkeys(rank_sources(q.question)))
    gold = set(q.gold_source_ids)
    quotes = answer["quotes"]
    pairs = [(x["text"], stored_slice(x["source_id"], x["start"], x["end"])) for x in quotes]
    cited = [s["source_id"] for s in answer["sources"] if s.get("supporting", True)]
    texts = " ".join(x["text"].lower() for x in quotes)
    return {
        "id": q.id,
        "question": q.question,
        "topic": q.topic,
        "answerable": q.answerable,
        "abstained": bool(answer["abstained"]),
        "best_gold_rank": best_gold_rank(ranked, gold, k) if gold else None,
        "ranked_source_ids": ranked[:k],
        "recall@1": source_recall_at_k(ranked, gold, 1),
        "recall@3": source_recall_at_k(ranked, gold, 3),
        "recall@10": source_recall_at_k(ranked, gold, 10),
        "mrr@10": source_mrr_at_k(ranked, gold, 10),
        "ndcg@10": source_ndcg_at_k(ranked, gold, 10),
        "gold_quote_in_top3": any(x["source_id"] in gold for x in quotes[:3]) if gold else None,
        "key_phrase_hit": any(p.lower() in texts for p in q.key_phrases) if q.key_phrases else None,
        "faithful": quote_faithfulness(pairs),
        "n_quotes": len(quotes),
        "citation_precision": citation_precision(cited, gold) if gold and cited else None,
        "cited_source_ids": cited,
        "quotes": quotes,
        "latency_ms": latency,
    }


def summarize(rows: list[dict]) -> dict:
    """Set-level metrics; retrieval metrics over answerable questions only."""
    answerable = [r for r in rows if r["answerable"]]
    answered = [r for r in answerable if not r["abstained"]]
    all_pairs = sum(r["n_quotes"] for r in rows)
    faithful = sum(r["faithful"] * r["n_quotes"] for r in rows) / all_pairs if all_pairs else 1.0
    abst = abstention_scores([(not r["answerable"], r["abstained"]) for r in rows])
    lat = percentiles([r["latency_ms"] for r in rows])
    summary = {
        f"source_{m}": _mean([r[m] for r in answerable])
        for m in ("recall@1", "recall@3", "recall@10", "mrr@10", "ndcg@10")
    }
    summary.update(
        {
            "questions": len(rows),
            "answerable": len(answerable),
            "answered_when_answerable": len(answered) / len(answerable) if answerable else None,
            "gold_quote_in_top3": _mean([float(r["gold_quote_in_top3"]) for r in answered]),
            "key_phrase_hit": _mean(
                [float(r["key_phrase_hit"]) for r in answered if r["key_phrase_hit"] is not None]
            ),
            "quote_faithfulness": faithful,
            "citation_precision": _mean([r["citation_precision"] for r in answered]),
            "abstention_precision": abst["precision"],
            "abstention_recall": abst["recall"],
            "abstention_f1": abst["f1"],
            "latency_p50_ms": lat["p50"],
            "latency_p95_ms": lat["p95"],
        }
    )
    return summary


def run_eval(
    questions: list[EvalQuestion],
    ask: Callable[[str], dict],
    rank_sources: Callable[[str], list[str]],
    stored_slice: Callable[[str, int, int], str],
    k: int = 10,
    set_name: str = "curated",
    build_id: str = "",
) -> dict:
    """Result in the shape eval/report.py renders: summary plus one row per question."""
    rows = [evaluate_question(q, ask, rank_sources, stored_slice, k) for q in questions]
    return {
        "set": set_name,
        "build_id": build_id,
        "k": k,
        "summary": summarize(rows),
        "questions": rows,
    }
