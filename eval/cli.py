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
)


def add_eval_commands(sub, add_index, engine_for) -> None:
    """Register `bala eval` and the `bala bench` group."""
    p = sub.add_parser("eval", help="score the curated question set")
    p.add_argument("--set", help="eval set JSONL (default: eval/curated.jsonl)")
    p.add_argument("--json", metavar="OUT", help="write the full result as JSON")
    p.add_argument("--report", metavar="DIR", help="write report.md with PNG plots")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_eval(a, engine_for))

    bench = sub.add_parser("bench", help="benchmarks (JSON output)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    p = bench_sub.add_parser("latency", help="warm ask p50/p95 and CLI cold start")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cold-runs", type=int, default=2)
    p.add_argument("--json", metavar="OUT")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_latency(a, engine_for))
    p = bench_sub.add_parser("abstention", help="calibrate the abstention thresholds")
    p.add_argument("--bioasq", nargs="+", help="golden files (default: ../shared/bench/bioasq)")
    p.add_argument("--set", help="curated eval set JSONL (default: eval/curated.jsonl)")
    p.add_argument("--json", metavar="OUT")
    add_index(p)
    p.set_defaults(func=lambda a: _cmd_abstention(a, engine_for))
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        if hasattr(module, "register_bench"):
            module.register_bench(bench_sub)
