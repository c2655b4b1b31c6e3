"""Argument parsers for `bala eval` and `bala bench ...`; each calls one library function.

The answer engine arrives as `engine_for(settings) -> EngineFunctions`, so eval/ never
imports app/.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EngineFunctions:
    ask: Callable[[str], dict]
    rank_sources: Callable[[str], list[str]]
    stored_slice: Callable[[str, int, int], str]
    build_id: str
    evidence: Callable[[str], dict] | None = None  # best_cosine, best_overlap, missing_terms
    source_ids: Callable[[], set[str]] | None = None
    answer_settings: object = None
    candidates: Callable[[str], list[dict]] | None = None  # sentences the scorer weighs
    passages: Callable[[str], list[str]] | None = None  # texts of the top retrieved passages
    signals: Callable[[str], list[dict]] | None = None  # each candidate's answer signals
    features: Callable[[str], list[dict]] | None = None  # signals before the answer model


def _write_json(data: dict, out: str | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def _cmd_eval(args, engine_for) -> int:
    from core.settings import load_settings
    from eval.curated import DEFAULT_SET, load_eval_set, run_eval
    from eval.report import write_report

    fns = engine_for(load_settings(args.index))
    path = Path(args.set or DEFAULT_SET)
    result = run_eval(
        load_eval_set(path),
        fns.ask,
        fns.rank_sources,
        fns.stored_slice,
        set_name=path.stem,
        build_id=fns.build_id,
    )
    if args.report:
        print(f"report: {write_report(result, Path(args.report))}")
    if args.json:
        _write_json(result, args.json)
    print(json.dumps(result["summary"], indent=2))
    return 0 if result["summary"]["quote_faithfulness"] == 1.0 else 1


def _cmd_latency(args, engine_for) -> int:
    from core.settings import load_settings
    from eval.bench_latency import run_latency_bench

    settings = load_settings(args.index)
    fns = engine_for(settings)
    result = run_latency_bench(fns.ask, str(settings.index_dir), args.rounds, args.cold_runs)
    _write_json(result, args.json)
    if args.json:
        print(json.dumps(result["warm"], indent=2))
    return 0


def _cmd_train(args, engine_for) -> int:
    from eval.answers_corpus import DEFAULT_DIR, ensure_library, load_questions
    from eval.train_scorer import run_training, sample_train, split_usable
    from index.rerank import MODEL_DIR

    settings = ensure_library(Path(args.work or DEFAULT_DIR))
    out = Path(args.out) if args.out else MODEL_DIR
    fns = engine_for(settings.replace(answer={"scorer": "features"}))
    questions = sample_train(load_questions(), args.max_questions, args.seed)
    candidates = {q.qid: fns.features(q.body) for q in questions}
    cross = None
    if args.cross_encoder:
        ce_part, questions = split_usable(questions, candidates, args.seed)
        cross = _train_cross(args, ce_part, candidates, out)
        _add_logits(questions, candidates, out, cross)
    result = run_training(questions, candidates, out, cross, args.seed)
    _write_json(result, args.json)
    return 0


def _cmd_train_encoder(args, engine_for) -> int:
    """`bala train encoder --out DIR`: the bi-encoder experiment (eval/train_encoder.py)."""
    from eval.bioasq_data import golden_files
    from eval.train_encoder import PER_QUESTION, run_encoder_training

    if not args.out:
        print("error: bala train encoder needs --out DIR (the shipped encoder is not replaced)")
        return 2
    files = golden_files()
    if not files:
        print("error: no BioASQ golden files in ../shared/bench/bioasq")
        return 2
    per_question = args.per_question or PER_QUESTION
    try:
        card = run_encoder_training(files, Path(args.out), per_question, args.seed)
    except ValueError as exc:  # no development question to learn from
        print(f"error: {exc}")
        return 2
    _write_json(card, args.json)
    return 0


def _train_cross(args, questions, candidates: dict, out: Path) -> dict:
    """Fine-tune and export the cross-encoder (eval/train_scorer.py); its card entry."""
    from eval.answers_corpus import DEFAULT_DIR
    from eval.train_scorer import build_pairs, train_cross_encoder
    from index.rerank import MODEL_FILE, export_int8

    pairs = build_pairs(questions, candidates, args.max_pairs, args.seed)
    work = Path(args.work or DEFAULT_DIR) / "train"
    model_dir = train_cross_encoder(pairs, work, seed=args.seed)
    info = export_int8(model_dir, out / MODEL_FILE)
    return {
        "file": info["file"],
        "sha256": info["sha256"],
        "bytes": info["bytes"],
        "pairs": len(pairs),
        "questions": len(questions),
    }


def _add_logits(questions, candidates: dict, out: Path, cross: dict) -> None:
    """Each candidate's logit from the exported (shipped, int8) cross-encoder, as `ce`."""
    from index.rerank import CrossScorer

    scorer = CrossScorer(out, cross)
    for q in questions:
        rows = candidates.get(q.qid, [])
        for row, logit in zip(rows, scorer.score(q.body, [r["text"] for r in rows])):
            row["ce"] = float(logit)


def _bench_engines(engine_for, scorers: list[str]) -> dict:

    from eval.answers_corpus import ensure_library

    settings = ensure_library()
    return {name: engine_for(settings.replace(answer={"scorer": name})) for name in scorers}


def _cmd_train_bars(args, engine_for) -> int:
    from eval.answers_corpus import load_questions
    from eval.tune_scorer import collect_rows, tune

    fns = _bench_engines(engine_for, ["answer"])["answer"]
    rows = collect_rows(load_questions(), fns.signals)
    if args.rows:
        Path(args.rows).write_text(json.dumps(rows), encoding="utf-8")
    result = tune(rows)
    _write_json(result, args.json)
    return 0


def _cmd_bench_answers(args, engine_for) -> int:
    from core.settings import load_settings
    from eval.answers_corpus import load_questions
    from eval.bench_answers import curated_first_quote, run_answers_bench
    from eval.curated import DEFAULT_SET, load_eval_set

    scorers = args.scorers or ["answer", "legacy"]
    questions = load_questions()
    result = {"bioasq": {}, "curated": {}}
    for i, name in enumerate(scorers):  # one engine at a time: each holds the bench library
        engines = _bench_engines(engine_for, [name])
        baselines = i == 0 and not args.no_baselines
        part = run_answers_bench(engines, questions, tuple(args.splits), args.limit, baselines)
        for split, by_strategy in part["splits"].items():
            result["bioasq"].setdefault(split, {}).update(by_strategy)

    base = load_settings(args.index)
    eval_set = load_eval_set(Path(args.set or DEFAULT_SET))
    for name in [] if args.no_curated else scorers:
        fns = engine_for(base.replace(answer={"scorer": name}))
        result["curated"][name] = curated_first_quote(fns.ask, eval_set)
    _write_json(result, args.json)
    return 0


def _cmd_abstention(args, engine_for) -> int:
    from core.settings import load_settings
    from eval.bioasq_data import golden_files
    from eval.calibrate import run_calibration

    fns = engine_for(load_settings(args.index))
    files = [Path(p) for p in args.bioasq] if args.bioasq else golden_files()
    result = run_calibration(fns, files, Path(args.set) if args.set else None)
    _write_json(result, args.json)
    if args.json:
        print(json.dumps({k: result[k] for k in ("chosen", "current") if k in result}, indent=2))
    return 0


# Benchmarks that live in their own modules, each exposing register_bench(bench_subparsers).
BENCH_MODULES = (
    "eval.bench_bioasq",
    "eval.bench_ingest",
    "eval.bench_scale",
    "eval.pdf_fidelity",
    "eval.bench_medline",
    "eval.bench_refs",
    "eval.bench_engines",
    "eval.bench_ray",
)


def add_eval_commands(sub, add_index, engine_for) -> None:
    """Register `bala eval`, `bala train` and the `bala bench` group."""
    p = sub.add_parser("eval", help="score the curated question set")
    p.add_argument("--set", help="eval set JSONL (default: eval/curated.jsonl)")
    p.add_argument("--json", metavar="OUT", help="write the full result as JSON")
    p.add_argument("--report", metavar="DIR", help="write report.md with PNG plots")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_eval(a, engine_for))
    _add_train_command(sub, engine_for)
    bench = sub.add_parser("bench", help="benchmarks (JSON output)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    _add_engine_benches(bench_sub, add_index, engine_for)
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        if hasattr(module, "register_bench"):
            module.register_bench(bench_sub)


def _add_train_command(sub, engine_for) -> None:
    """`bala train scorer|bars`."""
    p = sub.add_parser(
        "train", help="train the answer scorer (BioASQ 7B-9B; see eval/train_scorer.py)"
    )
    p.add_argument(
        "what",
        choices=["scorer", "bars", "encoder"],
        help="scorer: fit the answer model (7B-9B); bars: choose the quote bar and margin (10B); "
        "encoder: fine-tune the bi-encoder on 7B-10B (an experiment; needs --out)",
    )
    p.add_argument("--cross-encoder", action="store_true", help="also fine-tune the cross-encoder")
    p.add_argument("--max-pairs", type=int, help="cap on the cross-encoder's pairs (default: all)")
    p.add_argument(
        "--max-questions", type=int, help="seeded sample of 7B-9B questions (default: all)"
    )
    p.add_argument("--rows", metavar="OUT", help="bars: also write the 10B candidate rows")
    p.add_argument("--per-question", type=int, help="encoder: gold snippets per question")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="model folder to write (default: index/models/answer-scorer/)")
    p.add_argument(
        "--work", help="bench library and training folder (default: ~/.cache/bala/bench-answers)"
    )
    p.add_argument("--json", metavar="OUT")
    commands = {"scorer": _cmd_train, "bars": _cmd_train_bars, "encoder": _cmd_train_encoder}
    p.set_defaults(func=lambda a: commands[a.what](a, engine_for))


def _add_engine_benches(bench_sub, add_index, engine_for) -> None:
    """The benches that run the answer engine: latency, answers, abstention (the others
    register themselves from their modules, BENCH_MODULES)."""
    p = bench_sub.add_parser("latency", help="warm ask p50/p95 and CLI cold start")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cold-runs", type=int, default=2)
    p.add_argument("--json", metavar="OUT")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_latency(a, engine_for))
    p = bench_sub.add_parser("answers", help="answer-level quality of quoting strategies")
    p.add_argument("--scorers", nargs="+", help="answer scorers (default: answer legacy)")
    p.add_argument("--splits", nargs="+", default=["tune", "report"])
    p.add_argument("--limit", type=int, help="first N questions of each split (smoke runs)")
    p.add_argument("--no-baselines", action="store_true", help="only the scorers")
    p.add_argument("--no-curated", action="store_true", help="skip the curated set")
    p.add_argument("--set", help="curated eval set JSONL (default: eval/curated.jsonl)")
    p.add_argument("--json", metavar="OUT")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_bench_answers(a, engine_for))
    p = bench_sub.add_parser("abstention", help="calibrate the abstention thresholds")
    p.add_argument("--bioasq", nargs="+", help="golden files (default: ../shared/bench/bioasq)")
    p.add_argument("--set", help="curated eval set JSONL (default: eval/curated.jsonl)")
    p.add_argument("--json", metavar="OUT")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_abstention(a, engine_for))
