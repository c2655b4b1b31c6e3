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
    from app.auth import AuthConfigError
    from app.serve import auth_mode, serve

    secrets = Path(args.secrets) if args.secrets else None
    try:
        mode = auth_mode(args.host, secrets, args.auth_proxy_header, args.no_auth)
    except AuthConfigError as exc:
        print(f"bala serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return serve(load_settings(args.index), host=args.host, port=args.port, mode=mode)


def cmd_feedback(args) -> int:
    from app.feedback import export_feedback, purge_feedback, write_private
    from index.layout import feedback_path

    path = feedback_path(load_settings(args.index).index_dir)
    if args.action == "export":
        data = export_feedback(path)
        if not args.out:
            _print_json(data)
            return EXIT_OK
        try:
            write_private(Path(args.out), json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        except OSError as exc:
            print(f"bala feedback export: {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_ERROR
        return EXIT_OK
    if args.older_than is not None and args.older_than < 0:
        print("bala feedback purge: --older-than must be 0 or more days", file=sys.stderr)
        return EXIT_USAGE
    counts = purge_feedback(path, args.older_than)
    print(
        ", ".join(f"{n} {table} row(s) deleted" for table, n in counts.items()) or "nothing stored"
    )
    return EXIT_OK


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
    p.add_argument("--secrets", help="Streamlit secrets file with the [auth] (OIDC) section")
    p.add_argument("--auth-proxy-header", help="header set by an authenticating reverse proxy")
    p.add_argument("--no-auth", action="store_true", help="serve beyond loopback without sign-in")
    _add_index(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("feedback", help="export or purge stored feedback and kept answers")
    p.add_argument("action", choices=["export", "purge"])
    p.add_argument("--older-than", type=float, metavar="DAYS", help="purge only rows older")
    p.add_argument("--out", help="export: write JSON to this file (mode 0600) instead of stdout")
    _add_index(p)
    p.set_defaults(func=cmd_feedback)

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
