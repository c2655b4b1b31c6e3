"""`bala`: each subcommand parses its arguments and calls one library function.

Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some inputs failed; good ones were indexed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.settings import load_settings

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _print_json(data, out: str | None = None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def cmd_ingest(args) -> int:
    from app.reporting import format_ingest_report
    from index.build import ingest_paths

    settings = load_settings(args.index)
    report = ingest_paths(
        [Path(p) for p in args.paths], settings, prune=args.prune, progress=sys.stderr.isatty()
    )
    print(format_ingest_report(report, settings.index_dir))
    return EXIT_PARTIAL if report.failed else EXIT_OK


def cmd_status(args) -> int:
    from app.reporting import format_status
    from index.loaded import index_status

    status = index_status(load_settings(args.index))
    if args.json:
        _print_json(status)
    else:
        print(format_status(status))
    return EXIT_OK


def cmd_ask(args) -> int:
    from app.engine.answer import answer_question
    from app.reporting import format_answer
    from index.retrieve import Filters

    settings = load_settings(args.index)
    filters = Filters(
        source_ids=frozenset(args.source) if args.source else None,
        year_min=args.year_min,
        year_max=args.year_max,
        kinds=frozenset(args.kind) if args.kind else None,
    )
    answer = answer_question(args.question, settings, k=args.k, filters=filters)
    if args.json:
        _print_json(answer.to_json())
    else:
        print(format_answer(answer))
    return EXIT_OK


def cmd_serve(args) -> int:
    from app.serve import serve

    return serve(load_settings(args.index), host=args.host, port=args.port)


def engine_functions(settings):
    """The answer engine as the plain functions eval/ takes."""
    from app.engine.answer import get_engine
    from eval.cli import EngineFunctions

    engine = get_engine(settings)
    return EngineFunctions(
        ask=lambda q: engine.ask(q).to_json(),
        rank_sources=lambda q: [h.chunk.source_id for h in engine.retrieve(q, k=50)],
        stored_slice=engine.loaded.store.stored_slice,
        build_id=engine.loaded.build_id,
        evidence=lambda q: _evidence_json(engine.evidence(q)),
        source_ids=lambda: set(engine.loaded.store.sources),
        answer_settings=settings.answer,
        candidates=lambda q: [
            {"text": c.text, "hit_rank": c.hit_rank} for c in engine.candidates(q)
        ],
        passages=lambda q: [h.chunk.text for h in engine.retrieve(q)],
        signals=lambda q: _signals_json(engine.evidence(q)),
        features=engine.features,
    )


def _signals_json(evidence) -> list[dict]:
    return [
        {
            "text": s.candidate.text,
            "label": s.label,
            "answer": s.answer,
            "score": s.score,
            **s.signals,
        }
        for s in evidence.scored
        if s.signals is not None
    ]


def _evidence_json(evidence) -> dict:
    from dataclasses import asdict

    data = asdict(evidence.strength)
    data["missing_terms"] = list(evidence.missing)
    return data


def _add_index(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index", help="index directory (default: $BALA_INDEX, else ~/.local/share/bala/index)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bala", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index PDFs, text/markdown and JSONL passages")
    p.add_argument("paths", nargs="+", help="files or folders (recursive)")
    p.add_argument("--prune", action="store_true", help="drop sources whose files are gone")
    _add_index(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("status", help="what the index holds")
    p.add_argument("--json", action="store_true")
    _add_index(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("ask", help="answer a question with verbatim, cited quotes")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--source", action="append", help="only this source id (repeatable)")
    p.add_argument("--year-min", type=int, help="only sources published in or after")
    p.add_argument("--year-max", type=int, help="only sources published in or before")
    p.add_argument("--kind", action="append", choices=["review", "article", "other"])
    p.add_argument("--json", action="store_true")
    _add_index(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="start the Streamlit app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    _add_index(p)
    p.set_defaults(func=cmd_serve)

    from eval.cli import add_eval_commands

    add_eval_commands(sub, _add_index, engine_functions)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from index.layout import IndexLockedError, IndexMissingError
    from index.manifest import IndexMismatchError

    try:
        return args.func(args)
    except (IndexLockedError, IndexMissingError, IndexMismatchError) as exc:
        print(f"bala: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
