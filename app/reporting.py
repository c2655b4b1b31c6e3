"""Plain-text renderings of ingest reports, index status and answers for the terminal."""

from __future__ import annotations

from pathlib import Path

from core.types import IngestReport


def format_ingest_report(report: IngestReport, index_dir: Path) -> str:
    """One line per file that needs attention, then a summary line."""
    lines = [f"indexed  {path}" for path in report.ok]
    lines += [f"FAILED   {path}: {reason}" for path, reason in report.failed]
    lines += [f"skipped  {path}: {reason}" for path, reason in report.skipped]
    lines += [f"warning  {path}: {message}" for path, message in report.warnings]
    lines += [f"removed  {source_id} (file gone)" for source_id in report.removed]
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
    if report.failed:
        lines.append(
            f"{len(report.failed)} file(s) failed; every other file was indexed and the "
            "previous contents are kept"
        )
    return "\n".join(lines)


def format_status(status: dict) -> str:
    totals = status["totals"]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(totals["by_kind"].items()))
    head = [
        f"index    {status['index_dir']}",
        f"build    {status['build_id']} ({status['created_at']})",
        f"model    {status['model']['id']} [{status['model']['backend']}, "
        f"dim {status['model']['dim']}], faiss {status['faiss'].get('type', '?')}",
        f"holds    {totals['sources']} sources ({kinds}), {totals['chunks']} chunks",
        "",
    ]
    rows = [
        f"{s['source_id']:<36} {s['year'] or '':<5} {s['chunks']:>4}  {s['title'][:70]}"
        for s in status["sources"]
    ]
    return "\n".join(head + rows)


def quote_display(q) -> str:
    """The quote's exact text, with "…" where the stored excerpt starts or ends mid-sentence."""
    lead = "\u2026" if getattr(q, "leading_ellipsis", False) else ""
    trail = "\u2026" if getattr(q, "trailing_ellipsis", False) else ""
    return f"{lead}{q.text}{trail}"


def quote_note(q) -> str:
    note = getattr(q, "note", "")
    return f" ({note}; indirect evidence)" if note else ""


def format_answer(answer) -> str:
    """Numbered quotes with [n], then AMA references; or the abstention and closest sources."""
    from app.engine.citations import ama_reference

    if answer.abstained:
        lines = [f"{answer.message}.", ""]
        if answer.missing_terms:
            lines += [f"No indexed passage mentions: {', '.join(answer.missing_terms)}.", ""]
        if getattr(answer, "mentioned_terms", ()):
            terms = ", ".join(answer.mentioned_terms)
            lines += [f"Indexed passages mention {terms}, but none retrieved answers this.", ""]
        if answer.sources:
            lines.append("Closest sources (not supporting):")
            lines += [f"  - {ama_reference(c.source)}" for c in answer.sources]
        return "\n".join(lines)
    lines = []
    for i, q in enumerate(answer.quotes, start=1):
        page = f", p. {q.page}" if q.page else ""
        lines.append(f"{i}. \u201c{quote_display(q)}\u201d [{q.citation}{page}]{quote_note(q)}")
    lines += ["", "References"]
    lines += [f"  [{c.citation}] {ama_reference(c.source)}" for c in answer.sources]
    return "\n".join(lines)
