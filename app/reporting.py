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
    return "\n".join(head + rows + format_coverage(status.get("references", [])))


def format_coverage(rows: list[dict]) -> list[str]:
    """`bala status`: each indexed work with a reference list, and how much of it is held."""
    if not rows:
        return []
    lines = [
        "",
        "reference lists (cited in text / in library / missing; `bala refs ID` lists them)",
    ]
    lines += [
        f"{r['source_id']:<36} {r['cited']:>4} cited {r['in_library']:>4} in library "
        f"{r['missing']:>4} missing  {r['title'][:50]}"
        for r in rows
    ]
    return lines


def cited_line(work) -> str:
    """ "cites [12] Maude 2018 — in library" and what the cited work says, or why not."""
    head = f"cites [{work.n}] {work.label}"
    if work.status == "not in library":
        ids = (
            f"PMID {work.pmid}"
            if work.pmid
            else f"doi {work.doi}"
            if work.doi
            else "no PMID/DOI printed"
        )
        return f"{head} \u2014 not in library: {ids}"
    if work.quote is None:
        return f"{head} \u2014 in library ({work.library_source_id}): cited, not supporting"
    q = work.quote
    page = f", p. {q.page}" if q.page else ""
    return (
        f"{head} \u2014 in library, cited by the review: \u201c{q.text}\u201d "
        f"({work.library_source_id}{page})"
    )


def format_cited(answer, quote_index: int) -> list[str]:
    """Indented lines for the works cited by one quote's sentences (none when it cites none)."""
    for evidence in getattr(answer, "cited_evidence", ()):
        if evidence.quote_index == quote_index:
            return [f"   {cited_line(w)}" for w in evidence.works]
    return []


def format_refs(report: dict) -> str:
    """`bala refs`: one line per reference, in the library (with its source id) or missing."""
    s = report["summary"]
    lines = [
        f"{report['source_id']}  {report.get('title', '')[:80]}",
        f"{s['references']} references, {s['cited']} cited in the text, "
        f"{s['in_library']} in the library, {s['missing']} missing",
        "",
    ]
    for r in report["references"]:
        where = (
            f"in library: {r['library_source_id']} ({r['match_score']:.2f})"
            if r["library_source_id"]
            else "missing" + (f" (PMID {r['pmid']})" if r["pmid"] else "")
        )
        lines.append(f"[{r['n']}] {r['text'][:110]}\n      {where}")
    return "\n".join(lines)


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
        lines += format_cited(answer, i - 1)
    lines += ["", "References"]
    lines += [f"  [{c.citation}] {ama_reference(c.source)}" for c in answer.sources]
    return "\n".join(lines)
