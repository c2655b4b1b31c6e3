"""`bala`: each subcommand parses its arguments and calls one library function.

Exit codes: 0 ok, 1 error, 2 usage, 3 partial (some inputs failed; good ones were indexed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from app.eval_bridge import engine_functions
from core.settings import SettingsError, load_settings

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
    from app.ingest_cli import run_ingest
    from app.reporting import format_ingest_report, ingested_anything

    settings = load_settings(args.index)
    report = run_ingest(args, settings)
    if report is None:
        return EXIT_ERROR
    emit(format_ingest_report(report, settings.index_dir))
    if not ingested_anything(report):
        return EXIT_ERROR
    return EXIT_PARTIAL if report.failed or report.duplicates else EXIT_OK


def cmd_fetch(args) -> int:
    from app.reporting import fetch_exit_code, format_fetch_report
    from index.fetch import fetch_ids
    from ingest.fetch import ids_from_text

    ids = list(args.ids)
    for name in args.from_file or []:
        try:
            ids += ids_from_text(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            print(f"bala fetch: cannot read id list {name}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if not ids:
        print("bala fetch: no ids given (PMID, DOI or PMCID, or --from FILE)", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings(args.index)
    try:
        report = fetch_ids(ids, settings, dry_run=args.dry_run, progress=sys.stderr.isatty())
    except ValueError as exc:
        print(f"bala fetch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(format_fetch_report(report, settings.index_dir))
    return fetch_exit_code(report)


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
    if engine.retriever.warning:
        print(f"bala: warning: {engine.retriever.warning}", file=sys.stderr)
    for target in args.export or []:
        from app.engine.citations import export_answer

        Path(target).write_text(export_answer(answer, Path(target).suffix), encoding="utf-8")
    if args.json:
        _print_json({**answer.to_json(), "index_warning": engine.retriever.warning})
    else:
        emit(format_answer(answer))
    return EXIT_OK


def cmd_enrich(args) -> int:
    from app.reporting import enrich_exit_code, format_enrich_report
    from index.enrich import enrich_index
    from index.enrich_online import enrich_online

    if bool(args.medline) == bool(args.online):
        print("bala enrich: give --from MEDLINE_XML... or --online (not both)", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings(args.index)
    if args.online:
        report = enrich_online(settings, progress=True)
    else:
        report = enrich_index(settings, [Path(p) for p in args.medline])
    print(format_enrich_report(report))
    return enrich_exit_code(report)


def _add_label_filters(p: argparse.ArgumentParser) -> None:
    from ingest.labels import DESIGNS, DISEASES, POPULATIONS

    p.add_argument("--design", action="append", choices=DESIGNS, help="only this study design")
    p.add_argument("--population", action="append", choices=POPULATIONS)
    p.add_argument("--disease", action="append", choices=DISEASES)


def cmd_refs(args) -> int:
    """`bala refs SOURCE_ID|PATH`: a work's references, each in the library or missing."""
    from app.reporting import format_refs
    from index.refs_online import OnlineLookup
    from index.review_refs import ReviewNotFound, load_review, missing_as, report_json
    from ingest.errors import IngestError

    if args.crossref and not args.online:
        print("bala refs: --crossref needs --online", file=sys.stderr)
        return EXIT_USAGE
    settings, say = load_settings(args.index), lambda t: print(f"bala refs: {t}", file=sys.stderr)
    lookup = OnlineLookup(settings, args.crossref, announce=say) if args.online else None
    try:
        refs, chunks = load_review(settings, args.target, online=lookup)
    except (ReviewNotFound, IngestError) as exc:
        print(f"bala: {exc}", file=sys.stderr)
        return EXIT_ERROR
    online = lookup.report if lookup else None
    if args.missing_as:
        sys.stdout.write(missing_as(refs, args.missing_as))
        if args.missing_as == "pmids":
            unlisted = sum(1 for r in refs.missing if not r.pmid)
            if unlisted:
                print(f"bala: {unlisted} missing reference(s) print no PMID", file=sys.stderr)
    elif args.json:
        _print_json(report_json(refs, chunks, online))
    else:
        print(format_refs(report_json(refs, chunks, online)))
    return EXIT_PARTIAL if online is not None and online.failed else EXIT_OK


def cmd_serve(args) -> int:
    from app.auth import AuthConfigError
    from app.serve import auth_mode, serve

    secrets = Path(args.secrets) if args.secrets else None
    settings = load_settings(args.index)
    header = args.auth_proxy_header or settings.serve.auth_proxy_header or None
    try:
        mode = auth_mode(args.host, secrets, header, args.no_auth)
    except AuthConfigError as exc:
        print(f"bala serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return serve(settings, host=args.host, port=args.port, mode=mode)


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


def _export_path(value: str) -> str:
    if Path(value).suffix.lower() not in (".md", ".bib", ".ris", ".json"):
        raise argparse.ArgumentTypeError(f"{value}: export as .md, .bib, .ris or .json")
    return value


def _add_index(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index", help="index directory (default: $BALA_INDEX, else ~/.local/share/bala/index)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The `bala` parser: one registration function per group of subcommands."""
    parser = argparse.ArgumentParser(prog="bala", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_library_commands(sub)
    _add_answer_commands(sub)
    _add_app_commands(sub)

    from app.settings_cli import add_settings_command
    from eval.cli import add_eval_commands

    add_settings_command(sub, _add_index)
    add_eval_commands(sub, _add_index, engine_functions)
    return parser


def _add_library_commands(sub) -> None:
    """The maintainer's commands: ingest, fetch, status, enrich, refs."""
    p = sub.add_parser(
        "ingest", help="index PDFs, text/markdown, JSONL passages, PubMed/MEDLINE and PMC JATS XML"
    )
    p.add_argument("paths", nargs="+", help="files or folders (recursive)")
    p.add_argument("--prune", action="store_true", help="drop sources whose files are gone")
    from app.ingest_cli import add_engine_options

    add_engine_options(p)
    _add_index(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("fetch", help="download PubMed/PMC records by id, then ingest them")
    p.add_argument("ids", nargs="*", help="PMIDs, DOIs or PMCIDs")
    p.add_argument("--from", dest="from_file", action="append", help="file of ids (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="list what would be fetched; no network")
    _add_index(p)
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("status", help="what the index holds and whether it is intact")
    p.add_argument("--json", action="store_true", help="everything, with each source's metadata")
    p.add_argument("--sources", action="store_true", help="also list every source")
    p.add_argument("--verify", action="store_true", help="also check every build file's sha256")
    _add_index(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("enrich", help="fill missing citation metadata from MEDLINE XML")
    p.add_argument("--from", dest="medline", nargs="+", metavar="MEDLINE_XML")
    p.add_argument("--online", action="store_true", help="fetch missing records from NCBI")
    _add_index(p)
    p.set_defaults(func=cmd_enrich)

    p = sub.add_parser("refs", help="a work's reference list: in the library or missing")
    p.add_argument("target", help="an indexed source id, or a PDF/JATS/text file")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--missing-as", choices=["ris", "csv", "pmids"], help="print the missing references"
    )
    p.add_argument("--online", action="store_true", help="look missing ones up at NCBI")
    p.add_argument("--crossref", action="store_true", help="with --online: also ask Crossref")
    _add_index(p)
    p.set_defaults(func=cmd_refs)


def _add_answer_commands(sub) -> None:
    """The clinician's command: ask."""
    p = sub.add_parser("ask", help="answer a question with verbatim, cited quotes")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--source", action="append", help="only this source id (repeatable)")
    p.add_argument("--year-min", type=int, help="only sources published in or after")
    p.add_argument("--year-max", type=int, help="only sources published in or before")
    p.add_argument("--kind", action="append", choices=["review", "article", "other"])
    _add_label_filters(p)
    p.add_argument(
        "--export",
        action="append",
        type=_export_path,
        help="also write the answer to FILE: .md, .bib, .ris or .json (CSL-JSON); repeatable",
    )
    p.add_argument("--json", action="store_true")
    _add_index(p)
    p.set_defaults(func=cmd_ask)


def _add_app_commands(sub) -> None:
    """The served app and what it stores: serve, feedback."""
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from index.layout import IndexLockedError, IndexMissingError
    from index.manifest import IndexMismatchError

    try:
        return args.func(args)
    except (IndexLockedError, IndexMissingError, IndexMismatchError) as exc:
        print(f"bala: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SettingsError as exc:
        print(f"bala: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
