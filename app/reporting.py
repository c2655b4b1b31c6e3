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
            _engine_line(status),
            f"model     {model['id']} [{model['backend']}, dim {model['dim']}]",
        ]
    if "totals" in status:
        lines += _holdings(status["totals"])
    lines += _integrity_lines(status["integrity"])
    lines += format_coverage(status.get("references", []))
    if sources and "sources" in status:
        lines.append("")
        lines += [
            f"{s['source_id']:<36} {s['year'] or '':<5} {s['chunks']:>4}  {s['title'][:70]}"
            + ("  [metadata only]" if s.get("metadata_only") else "")
            for s in status["sources"]
        ]
    return "\n".join(lines)


def _engine_line(status: dict) -> str:
    milvus = status.get("milvus")
    if milvus is None:
        return f"engine    local: FAISS {status['faiss'].get('type', '?')} + BM25 + SQLite"
    if not milvus["ok"]:
        return f"engine    milvus at {milvus['uri']}: unavailable"
    return (
        f"engine    milvus at {milvus['uri']}: collection {milvus['collection']} "
        f"(build {milvus['build_id']}, {milvus['rows']} passages) + SQLite catalogue"
    )


def _holdings(totals: dict) -> list[str]:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(totals["by_kind"].items()))
    years = totals["years"]
    span = f"{years['min']}\u2013{years['max']}" if years["dated"] else "none dated"
    return [
        f"holds     {totals['sources']} sources ({kinds}), {totals['chunks']} passages, "
        f"{totals['files']} files",
        f"years     {span} ({years['dated']} of {totals['sources']} sources dated); "
        f"{totals['with_title']} with a title; {totals.get('metadata_only', 0)} metadata-only",
        *_label_lines(totals.get("labels", {})),
    ]


def _label_lines(labels: dict) -> list[str]:
    """One line per label kind with its most common values ('labels' none yet otherwise)."""
    lines = []
    for kind, counts in labels.items():
        if counts:
            top = ", ".join(f"{n} {value}" for value, n in list(counts.items())[:6])
            lines.append(f"{(kind + ' ').ljust(10)}{top}")
    return lines


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
    from app.engine.citations import quote_text

    q = work.quote
    page = f", p. {q.page}" if q.page else ""
    return (
        f"{head} \u2014 in library, cited by the review: \u201c{quote_text(q)}\u201d "
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
        if r.get("online"):
            lines.append(f"      online: {_online_line(r['online'])}")
    if report.get("online"):
        lines += [f"LOOKUP FAILED [{f['n']}]: {f['reason']}" for f in report["online"]["failed"]]
        lines.append(f"{report['online']['requests']} request(s) sent for the online lookup")
    return "\n".join(lines)


def _online_line(found: dict) -> str:
    """One reference's online lookup: the id found and verified, or the rejected candidate."""
    ident = f"PMID {found['pmid']}" if found["pmid"] else f"DOI {found['doi']}"
    if found["accepted"]:
        return f"not in library: {ident} ({found['method']}, verified {found['score']:.2f})"
    return (
        f"rejected {ident} ({found['method']}, score {found['score']:.2f} below the "
        f"threshold): {found['candidate_title'][:70]}"
    )


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
    from app.engine.answer_types import unaddressed_line
    from app.engine.citations import ama_reference, format_quote

    if answer.abstained:
        lines = [f"{answer.message}.", ""]
        if answer.missing_terms:
            lines += [f"No indexed passage mentions: {', '.join(answer.missing_terms)}.", ""]
        if getattr(answer, "mentioned_terms", ()):
            terms = ", ".join(answer.mentioned_terms)
            lines += [f"Indexed passages mention {terms}, but none retrieved answers this.", ""]
        if getattr(answer, "unaddressed", ()):
            lines += [unaddressed_line(answer), ""]
        if answer.sources:
            lines.append("Closest sources (not supporting):")
            lines += [f"  - {ama_reference(c.source)}" for c in answer.sources]
        return "\n".join(lines)
    lines = []
    sources = {c.citation: c.source for c in answer.sources}
    for i, q in enumerate(answer.quotes, start=1):
        lines.append(f"{i}. {format_quote(q, sources.get(q.citation))}")
        lines += format_cited(answer, i - 1)
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
    if getattr(report, "network_calls", ""):
        lines += [f"NOT FETCHED {sid}: {reason}" for sid, reason in report.not_fetched]
        lines.append(f"{report.requests} request(s) over the network: {report.network_calls}")
        if report.not_fetched:
            lines.append("sources not fetched were left as they were")
    return "\n".join(lines)


def enrich_exit_code(report) -> int:
    """0 all done, 3 partial (a file failed, or some records were not fetched), 1 when
    `--online` could fetch nothing that it needed."""
    if report.not_fetched and not report.enriched:
        return 1
    return 3 if report.failed or report.not_fetched else 0


def format_fetch_report(report, index_dir: Path) -> str:
    """`bala fetch`: files written, files kept, ids not fetched (named), then the ingest."""
    if report.planned:
        return "\n".join(["dry run: nothing was fetched", *report.planned])
    lines = [f"fetched  {path}" for path in report.downloaded]
    lines += [f"kept     {path} (already in the library)" for path in report.present]
    lines += [f"note     {ident}: {note}" for ident, note in report.notes]
    lines += [f"NOT FETCHED {ident}: {reason}" for ident, reason in report.not_fetched]
    lines.append(f"{report.requests} request(s) to NCBI; library {report.library}")
    if report.not_fetched:
        names = ", ".join(dict.fromkeys(ident for ident, _ in report.not_fetched))
        lines.append(f"not fetched: {names}; files already in the library were not touched")
    if report.ingest is not None:
        lines += ["", format_ingest_report(report.ingest, index_dir)]
    return "\n".join(lines)


def fetch_exit_code(report) -> int:
    """0 all fetched and ingested, 1 nothing could be had, 3 partial."""
    if not report.not_fetched and not (report.ingest and report.ingest.failed):
        return 0
    if not report.downloaded and not report.present and report.not_fetched:
        return 1
    return 3
