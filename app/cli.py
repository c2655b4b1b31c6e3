"""`bala`: each subcommand parses its arguments and calls one library function.

Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some inputs failed; good ones were indexed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.settings import load_settings

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def emit(text: str) -> None:
    """Print to stdout; a reader that closed the pipe (`bala status | head`) ends the output
    quietly, and the command keeps its own exit code."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _print_json(data, out: str | None = None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        emit(text)


def cmd_ingest(args) -> int:
    from app.reporting import format_ingest_report, ingested_anything
    from index.build import ingest_paths

    settings = load_settings(args.index)
    report = ingest_paths(
        [Path(p) for p in args.paths], settings, prune=args.prune, progress=sys.stderr.isatty()
    )
    emit(format_ingest_report(report, settings.index_dir))
    if not ingested_anything(report):
        return EXIT_ERROR
    return EXIT_PARTIAL if report.failed or report.duplicates else EXIT_OK


def cmd_status(args) -> int:
    from app.reporting import format_status
    from index.status import index_status

    status = index_status(load_settings(args.index), verify=args.verify)
    if args.json:
        _print_json(status)
    else:
        emit(format_status(status, sources=args.sources))
    return EXIT_OK if status["integrity"]["ok"] else EXIT_ERROR


def cmd_ask(args) -> int:
    from app.engine.answer import answer_question
    from app.reporting import format_answer
    from index.retrieve import Filters

    if not args.question.strip():
        print("bala ask: the question is empty", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings(args.index)
    filters = Filters(
        source_ids=frozenset(args.source) if args.source else None,
        year_min=args.year_min,
        year_max=args.year_max,
        kinds=frozenset(args.kind) if args.kind else None,
        designs=frozenset(args.design) if args.design else None,
        populations=frozenset(args.population) if args.population else None,
        diseases=frozenset(args.disease) if args.disease else None,
    )
    from app.engine.answer import get_engine

    engine = get_engine(settings)
    answer = answer_question(args.question, settings, k=args.k, filters=filters)
    if engine.loaded.warning:
        print(f"bala: warning: {engine.loaded.warning}", file=sys.stderr)
    if args.json:
        _print_json({**answer.to_json(), "index_warning": engine.loaded.warning})
    else:
        emit(format_answer(answer))
    return EXIT_OK


def cmd_enrich(args) -> int:
    from app.reporting import format_enrich_report
    from index.enrich import enrich_index

    if args.online:
        print(
            "bala enrich: --online is not available here: use `bala fetch PMID...` to "
            "download MEDLINE records, then `bala enrich --from FILE`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.medline:
        print("bala enrich: give MEDLINE XML files with --from FILE", file=sys.stderr)
        return EXIT_USAGE
    report = enrich_index(load_settings(args.index), [Path(p) for p in args.medline])
    print(format_enrich_report(report))
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _add_label_filters(p: argparse.ArgumentParser) -> None:
    from ingest.labels import DESIGNS, DISEASES, POPULATIONS

    p.add_argument("--design", action="append", choices=DESIGNS, help="only this study design")
    p.add_argument("--population", action="append", choices=POPULATIONS)
    p.add_argument("--disease", action="append", choices=DISEASES)


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
    )


def _evidence_json(evidence) -> dict:
    return {
        "best_cosine": evidence.best_cosine,
        "best_overlap": evidence.best_overlap,
        "missing_terms": list(evidence.missing),
    }


def _add_index(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index", help="index directory (default: $BALA_INDEX, else ~/.local/share/bala/index)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bala", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "ingest", help="index PDFs, text/markdown, JSONL passages, PubMed/MEDLINE and PMC JATS XML"
    )
    p.add_argument("paths", nargs="+", help="files or folders (recursive)")
    p.add_argument("--prune", action="store_true", help="drop sources whose files are gone")
    _add_index(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("status", help="what the index holds and whether it is intact")
    p.add_argument("--json", action="store_true", help="everything, with each source's metadata")
    p.add_argument("--sources", action="store_true", help="also list every source")
    p.add_argument("--verify", action="store_true", help="also check every build file's sha256")
    _add_index(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("ask", help="answer a question with verbatim, cited quotes")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--source", action="append", help="only this source id (repeatable)")
    p.add_argument("--year-min", type=int, help="only sources published in or after")
    p.add_argument("--year-max", type=int, help="only sources published in or before")
    p.add_argument("--kind", action="append", choices=["review", "article", "other"])
    _add_label_filters(p)
    p.add_argument("--json", action="store_true")
    _add_index(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("enrich", help="fill missing citation metadata from MEDLINE XML")
    p.add_argument("--from", dest="medline", nargs="+", metavar="MEDLINE_XML")
    p.add_argument("--online", action="store_true", help="(use `bala fetch` instead)")
    _add_index(p)
    p.set_defaults(func=cmd_enrich)

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
        if args.command == "ingest":
            print(
                "\nbala ingest: interrupted; nothing was published and the previous build is "
                "kept. Embeddings computed so far are cached: run the same command to resume.",
                file=sys.stderr,
            )
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
