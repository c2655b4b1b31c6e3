"""Plain-text renderings of ingest reports, index status and answers for the terminal."""

from __future__ import annotations

from pathlib import Path

from core.types import IngestReport


def ingested_anything(report: IngestReport) -> bool:
    """Whether the run indexed or kept any input (false: every path failed or was unusable)."""
    return bool(report.ok or report.unchanged)


def format_ingest_report(report: IngestReport, index_dir: Path) -> str:
    """One line per file that needs attention, then a summary line."""
    lines = [f"indexed  {path}" for path in report.ok]
    lines += [f"FAILED   {path}: {reason}" for path, reason in report.failed]
    lines += [f"skipped  {path}: {reason}" for path, reason in report.skipped]
    lines += [f"warning  {path}: {message}" for path, message in report.warnings]
    lines += [f"DUPLICATE {path}: {message}" for path, message in report.duplicates]
    lines += [
        f"removed  {source_id} (file gone, or deleted by a MEDLINE update file)"
        for source_id in report.removed
    ]
    if report.unchanged:
        lines.append(f"unchanged {len(report.unchanged)} file(s)")
    if report.changed:
        lines.append(
            f"build {report.build_id} at {index_dir}: {report.added_chunks} chunks "
            f"({report.embedded_chunks} newly embedded)"
        )
    elif report.build_id:
        lines.append(f"index unchanged (build {report.build_id})")
    else:
        lines.append(f"no index was built at {index_dir}: no file could be ingested")
    if report.failed or report.duplicates:
        what = [f"{len(report.failed)} file(s) failed"] if report.failed else []
        what += [f"{len(report.duplicates)} file(s) duplicate"] if report.duplicates else []
        lines.append(
            f"{'; '.join(what)}; every other file was indexed and the previous contents are kept"
            if ingested_anything(report)
            else f"{'; '.join(what)}; nothing was ingested and the previous contents are kept"
        )
    return "\n".join(lines)


def format_status(status: dict, sources: bool = False) -> str:
    """A summary (and with `sources`, one line per source); a damaged build says what is
    wrong and which build serves meanwhile."""
    lines = [f"index     {status['index_dir']}"]
    if "created_at" in status:
        model = status["model"]
        lines += [
            f"build     {status['build_id']} ({status['created_at']})",
            f"engine    {status.get('engine', 'local')}: FAISS {status['faiss'].get('type', '?')}"
            " + BM25 + SQLite",
            f"model     {model['id']} [{model['backend']}, dim {model['dim']}]",
        ]
    if "totals" in status:
        lines += _holdings(status["totals"])
    lines += _integrity_lines(status["integrity"])
    if sources and "sources" in status:
        lines.append("")
        lines += [
            f"{s['source_id']:<36} {s['year'] or '':<5} {s['chunks']:>4}  {s['title'][:70]}"
            for s in status["sources"]
        ]
    return "\n".join(lines)


def _holdings(totals: dict) -> list[str]:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(totals["by_kind"].items()))
    years = totals["years"]
    span = f"{years['min']}\u2013{years['max']}" if years["dated"] else "none dated"
    return [
        f"holds     {totals['sources']} sources ({kinds}), {totals['chunks']} passages, "
        f"{totals['files']} files",
        f"years     {span} ({years['dated']} of {totals['sources']} sources dated); "
        f"{totals['with_title']} with a title",
    ]


def _integrity_lines(integrity: dict) -> list[str]:
    if integrity["ok"]:
        hint = "" if "sha256" in integrity["checked"] else " (--verify also checks hashes)"
        return [f"integrity ok: {integrity['checked']}{hint}"]
    lines = [f"integrity DAMAGED: {p}" for p in integrity["problems"]]
    if "serving" in integrity:
        serving = integrity["serving"]
        lines.append(
            f"          `bala ask` and the app serve build {serving} meanwhile"
            if serving
            else "          no intact build is left: rebuild with `bala ingest`"
        )
    return lines


def format_answer(answer) -> str:
    """Numbered quotes with [n], then AMA references; or the abstention and closest sources."""
    from app.engine.citations import ama_reference

    if answer.abstained:
        lines = [f"{answer.message}.", ""]
        if answer.missing_terms:
            lines += [f"No retrieved passage mentions: {', '.join(answer.missing_terms)}.", ""]
        if answer.sources:
            lines.append("Closest sources (not supporting):")
            lines += [f"  - {ama_reference(c.source)}" for c in answer.sources]
        return "\n".join(lines)
    lines = []
    for i, q in enumerate(answer.quotes, start=1):
        page = f", p. {q.page}" if q.page else ""
        lines.append(f"{i}. \u201c{q.text}\u201d [{q.citation}{page}]")
    lines += ["", "References"]
    lines += [f"  [{c.citation}] {ama_reference(c.source)}" for c in answer.sources]
    return "\n".join(lines)


def format_enrich_report(report) -> str:
    """`bala enrich`: what was filled in, what still lacks a title, files that failed."""
    lines = [f"FAILED   {path}: {reason}" for path, reason in report.failed]
    lines.append(
        f"read {report.records_read} MEDLINE record(s); metadata filled for "
        f"{len(report.enriched)} source(s), labels changed for {report.relabeled}"
    )
    if report.still_missing:
        shown = ", ".join(report.still_missing[:10])
        more = len(report.still_missing) - 10
        lines.append(
            f"{len(report.still_missing)} source(s) still without a title: {shown}"
            + (f" (+{more} more)" if more > 0 else "")
        )
    lines.append(f"build {report.build_id} (nothing re-embedded)")
    return "\n".join(lines)
