"""`bala bench answers`: answer-level quality of quoting strategies side by side, in one run.

Strategies (each over the same retrieval):
- the engine with each answer scorer given (`scorers`, e.g. the trained one and "legacy",
  the passage-cosine + term-overlap scorer bala used before);
- `first-sentence`: the first sentence of the top retrieved passage;
- `top1-passage` / `top3-passages`: the whole top passages (upper bounds for quoting: a quote
  is at most two sentences, these are whole passages).
BioASQ (library: all 7B-11B gold snippets, eval/answers_corpus.py), per split: factoid and
list questions - share whose gold exact answer (any synonym, case-folded, at word boundaries)
is in the first quote / in any quote, an abstention counting as a miss; summary questions -
ROUGE-2 recall of the quotes against the ideal answer; answered share; latency p50/p95 of the
engine. Curated set (over the library of `--index`): share of answerable questions whose
first quote contains a key phrase.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eval.answer_metrics import contains_answer, rouge2_recall
from eval.answers_corpus import BenchQuestion
from eval.metrics import percentiles

BASELINES = ("first-sentence", "top1-passage", "top3-passages")


def _ask_texts(ask: Callable[[str], dict]) -> Callable[[str], tuple[list[str], float]]:
    def run(question: str) -> tuple[list[str], float]:
        started = time.perf_counter()
        answer = ask(question)
        ms = (time.perf_counter() - started) * 1000
        texts = [] if answer["abstained"] else [q["text"] for q in answer["quotes"]]
        return texts, ms

    return run


def baseline(name: str, fns, cache: dict) -> Callable[[str], tuple[list[str], float]]:
    """Quotes a baseline strategy would show, from the engine's own retrieval (one retrieval
    per question, shared by the baselines through `cache`; their latency is not measured)."""

    def run(question: str) -> tuple[list[str], float]:
        if question not in cache:
            cache[question] = (fns.candidates(question), fns.passages(question))
        cands, passages = cache[question]
        if name == "first-sentence":
            return [c["text"] for c in cands if c["hit_rank"] == 1][:1], 0.0
        return passages[: 1 if name == "top1-passage" else 3], 0.0

    return run


def score_strategy(run, questions: list[BenchQuestion]) -> dict:
    """BioASQ answer-level metrics of one strategy over questions (all of one split)."""
    first = anyq = answered = 0
    rouge, latencies, n_exact = [], [], 0
    for q in questions:
        texts, ms = run(q.body)
        latencies.append(ms)
        if q.kind in ("factoid", "list") and q.exact:
            n_exact += 1
            answered += bool(texts)
            first += bool(texts) and contains_answer(texts[0], q.exact)
            anyq += any(contains_answer(t, q.exact) for t in texts)
        elif q.kind == "summary" and q.ideal:
            rouge.append(rouge2_recall(texts, q.ideal))
    lat = percentiles(latencies)
    return {
        "factoid_list": n_exact,
        "exact_in_first_quote": round(first / n_exact, 4) if n_exact else None,
        "exact_in_any_quote": round(anyq / n_exact, 4) if n_exact else None,
        "answered": round(answered / n_exact, 4) if n_exact else None,
        "summary": len(rouge),
        "summary_rouge2_recall": round(sum(rouge) / len(rouge), 4) if rouge else None,
        "latency_p50_ms": round(lat["p50"], 2),
        "latency_p95_ms": round(lat["p95"], 2),
    }


def curated_first_quote(ask: Callable[[str], dict], eval_set) -> dict:
    """Share of answerable curated questions whose first quote contains a key phrase."""
    hits = answered = total = 0
    for q in eval_set:
        if not q.answerable or not q.key_phrases:
            continue
        total += 1
        answer = ask(q.question)
        if answer["abstained"] or not answer["quotes"]:
            continue
        answered += 1
        first = answer["quotes"][0]["text"].lower()
        hits += any(p.lower() in first for p in q.key_phrases)
    return {
        "questions": total,
        "answered": answered,
        "key_phrase_in_first_quote": round(hits / total, 4) if total else None,
    }


def run_answers_bench(
    engines: dict[str, object],
    questions: list[BenchQuestion],
    splits: tuple[str, ...] = ("tune", "report"),
    limit: int | None = None,
    with_baselines: bool = True,
) -> dict:
    """Every strategy on every split. `engines`: scorer name -> EngineFunctions."""
    any_fns = next(iter(engines.values()))
    strategies = {name: _ask_texts(fns.ask) for name, fns in engines.items()}
    if with_baselines:
        cache: dict = {}
        strategies |= {name: baseline(name, any_fns, cache) for name in BASELINES}
    out: dict = {"splits": {}}
    for split in splits:
        qs = [q for q in questions if q.split == split and q.kind != "yesno"]  # not scored
        qs = qs[:limit] if limit else qs
        out["splits"][split] = {name: score_strategy(run, qs) for name, run in strategies.items()}
    return out
