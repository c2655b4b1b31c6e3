"""The clinician app: ask, read verbatim cited quotes in context, export, give feedback.

Run with `bala serve --index DIR` or `BALA_INDEX=DIR streamlit run app/streamlit_app.py`.
Document text is only ever shown escaped (app/ui_text.py); no raw HTML is rendered.
"""

from __future__ import annotations

import sqlite3
import sys
import traceback
import uuid

import streamlit as st

from app.engine.answer import Engine
from app.engine.answer_types import ABSTAIN_MESSAGE, Answer, CitedSource
from app.engine.citations import ama_authors, answer_bibtex, answer_markdown
from app.feedback import record_feedback
from app.reporting import quote_display
from app.ui_text import (
    Context,
    context_window,
    doi_url,
    escape_markdown,
    highlighted_markdown,
    pubmed_url,
)
from core.settings import Settings, load_settings
from index.layout import IndexMissingError, current_build, feedback_path
from index.manifest import IndexMismatchError
from index.retrieve import Filters

EXAMPLES = (
    "What happens after relapse following CD19 CAR T cells?",
    "How often is CD19-negative relapse seen after blinatumomab?",
    "What are the options for B-ALL relapsing after inotuzumab ozogamicin?",
)
KIND_CHOICES = {
    "All sources": None,
    "Reviews only": frozenset({"review"}),
    "Primary articles only": frozenset({"article", "other"}),
}
ERROR_TEXT = (
    "Sorry, this question could not be answered because of an internal error "
    "(the details were written to the server log). Please try again or rephrase it."
)
DISCLAIMER = (
    "Every statement below is a verbatim quote from the indexed literature, with its source. "
    "It is decision support, not medical advice: read the sources before acting."
)


@st.cache_resource(show_spinner="Loading the index and the embedding model\u2026", max_entries=4)
def load_engine(index_dir: str, build: str) -> Engine:
    """One engine per index directory and live build, shared by every session."""
    del build  # part of the cache key only: a new ingest gets a new engine
    return Engine(load_settings(index_dir))


def engine_or_instructions(settings: Settings) -> Engine | None:
    """The shared engine, or None after showing how to build a usable index."""
    build = current_build(settings.index_dir)
    try:
        return load_engine(str(settings.index_dir), str(build.resolve()) if build else "")
    except (IndexMissingError, IndexMismatchError) as exc:
        kind = "No index" if isinstance(exc, IndexMissingError) else "Unusable index"
        st.warning(f"**{kind}** at {escape_markdown(str(settings.index_dir))}")
        st.text(str(exc))
        st.markdown("Build one from the demo library (or your own PDFs), then reload this page:")
        st.code(f"bala ingest ../shared/corpus --index {settings.index_dir}", language="bash")
        st.caption("Then start the app with `bala serve --index DIR` (or set BALA\\_INDEX).")
    except Exception:  # noqa: BLE001 - show a short message, keep the traceback in the log
        print("bala app: loading the index failed", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        st.error("The index could not be loaded (details are in the server log).")
    return None


# --- sidebar -------------------------------------------------------------------------------


def render_index_summary(engine: Engine) -> None:
    """Sources, passages, build id/date and model of the loaded build."""
    sources = engine.loaded.store.sources.values()
    kinds: dict[str, int] = {}
    for s in sources:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    manifest = engine.loaded.manifest
    st.header("Indexed library")
    st.markdown(f"**{len(sources)}** sources \u00b7 **{len(engine.loaded.store.chunks)}** passages")
    st.caption(" \u00b7 ".join(f"{kind.title()}s: {n}" for kind, n in sorted(kinds.items())))
    st.caption(f"Build {escape_markdown(engine.loaded.build_id)}")
    st.caption(f"Built {escape_markdown(str(manifest.get('created_at', '?')))}")
    model = manifest.get("model", {})
    st.caption(
        f"Model {escape_markdown(str(model.get('id', '?')))} "
        f"({escape_markdown(str(model.get('backend', '?')))})"
    )


def render_filters(engine: Engine) -> Filters:
    """Source-type and publication-year filters for retrieval."""
    st.header("Filters")
    choice = st.radio("Source type", list(KIND_CHOICES), key="kind_filter")
    years = sorted({s.year for s in engine.loaded.store.sources.values() if s.year})
    year_min = year_max = None
    if len(years) > 1:
        lo, hi = st.slider(
            "Publication year", years[0], years[-1], (years[0], years[-1]), key="year_filter"
        )
        if (lo, hi) != (years[0], years[-1]):
            year_min, year_max = lo, hi
            st.caption("Sources without a publication year are left out while narrowed.")
    else:
        only = f" (all dated sources are from {years[0]})" if years else ""
        st.caption(f"Publication-year filter: needs sources from two or more years{only}.")
    return Filters(year_min=year_min, year_max=year_max, kinds=KIND_CHOICES[choice])


def queue_question(question: str) -> None:
    st.session_state["pending_question"] = question


def render_sidebar(engine: Engine) -> Filters:
    with st.sidebar:
        render_index_summary(engine)
        filters = render_filters(engine)
        st.header("Example questions")
        for i, question in enumerate(EXAMPLES):
            st.button(
                question,
                key=f"example_{i}",
                on_click=queue_question,
                args=(question,),
                width="stretch",
            )
    return filters


# --- answering -----------------------------------------------------------------------------


def quote_contexts(engine: Engine, answer: Answer) -> list[Context | None]:
    """The stored text around each quote (read once, when the answer is made)."""
    texts: dict[str, str] = {}
    contexts: list[Context | None] = []
    for q in answer.quotes:
        try:
            if q.source_id not in texts:
                texts[q.source_id] = engine.loaded.store.document(q.source_id).text
            contexts.append(context_window(texts[q.source_id], q.start, q.end))
        except KeyError:
            contexts.append(None)
    return contexts


def ask(engine: Engine, question: str, filters: Filters) -> dict:
    """A history entry for one question; errors become a short message, traceback to stderr."""
    entry = {"id": uuid.uuid4().hex[:12], "question": question, "filters": filters}
    try:
        answer = engine.ask(question, filters=filters)
        entry.update(answer=answer, contexts=quote_contexts(engine, answer), error=None)
    except Exception:  # noqa: BLE001 - any failure must reach the user as a message only
        print(f"bala app: answering {question!r} failed", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        entry.update(answer=None, contexts=[], error=ERROR_TEXT)
    return entry


# --- rendering an answer -------------------------------------------------------------------


def citation_marker(number: int, page: int | None) -> str:
    page_part = f", p. {page}" if page else ""
    return f"\\[{number}{page_part}\\]"


def render_quotes(answer: Answer, contexts: list[Context | None]) -> None:
    """Each quote with its [n] marker, and an expander with the passage around it."""
    st.caption(escape_markdown(answer.message))
    for i, (q, ctx) in enumerate(zip(answer.quotes, contexts, strict=True), start=1):
        marker = citation_marker(q.citation, q.page)
        shown = escape_markdown(quote_display(q))
        st.markdown(f"> \u201c{shown}\u201d **{marker}**")
        if q.note:
            st.caption(f"\u26a0 {escape_markdown(q.note)}: indirect evidence, ranked lower")
        with st.expander(f"Passage around quote {i} {marker}"):
            if ctx is None:
                st.text(q.text)
            else:
                st.markdown(highlighted_markdown(ctx))
            st.caption(
                f"{escape_markdown(q.source_id)} \u00b7 characters {q.start}\u2013{q.end}"
                " of the stored text \u00b7 quote highlighted"
            )


def source_lines(cited: CitedSource, pages: list[int]) -> list[str]:
    """Markdown lines for one source; metadata escaped, links built from PMID/DOI only."""
    s = cited.source
    title = escape_markdown(s.title or s.source_id)
    label = "" if cited.supporting else " \u2014 *closest, not supporting*"
    lines = [f"**\\[{cited.citation}\\]** {title}{label}"]
    meta = [ama_authors(s.authors), s.journal, str(s.year or "")]
    if pages:
        meta.append("p. " + ", ".join(str(p) for p in pages))
    meta_text = " \u00b7 ".join(escape_markdown(m) for m in meta if m)
    links = []
    if url := pubmed_url(s.pmid):
        links.append(f"[PubMed {s.pmid}]({url})")
    if url := doi_url(s.doi):
        links.append(f"[doi:{escape_markdown(s.doi)}]({url})")
    tail = " \u00b7 ".join(part for part in (meta_text, " \u00b7 ".join(links)) if part)
    return lines + ([tail] if tail else [])


def render_sources(answer: Answer, heading: str) -> None:
    st.markdown(f"**{heading}**")
    for cited in answer.sources:
        pages = sorted({q.page for q in answer.quotes if q.citation == cited.citation and q.page})
        with st.container(border=True):
            st.markdown("  \n".join(source_lines(cited, pages)))


def render_abstention(answer: Answer) -> None:
    detail = (
        "Passages on this topic are indexed, but none answers the question, so none is quoted."
        if answer.reason == "no-answer"
        else "No passage in the library supports an answer strongly enough to quote it, "
        "so none is given."
    )
    st.warning(f"**{ABSTAIN_MESSAGE}.** {detail}", icon="\u26a0\ufe0f")
    if answer.missing_terms:
        missing = ", ".join(escape_markdown(t) for t in answer.missing_terms)
        st.markdown(f"No indexed passage mentions: {missing}.")
    if answer.mentioned_terms:
        terms = ", ".join(escape_markdown(t) for t in answer.mentioned_terms)
        st.markdown(f"Indexed passages mention {terms}, but none retrieved answers this.")
    if answer.sources:
        render_sources(answer, "Closest sources (closest, not supporting)")


def render_exports(entry: dict) -> None:
    answer: Answer = entry["answer"]
    stem = f"bala-answer-{entry['id']}"
    cols = st.columns([1, 1, 3])
    cols[0].download_button(
        "Export Markdown",
        answer_markdown(answer),
        file_name=f"{stem}.md",
        mime="text/markdown",
        key=f"md_{entry['id']}",
        on_click="ignore",
    )
    if not answer.abstained:
        cols[1].download_button(
            "Export BibTeX",
            answer_bibtex(answer),
            file_name=f"{stem}.bib",
            mime="application/x-bibtex",
            key=f"bib_{entry['id']}",
            on_click="ignore",
        )


def save_feedback(settings: Settings, entry: dict, helpful: bool, comment: str) -> None:
    answer: Answer = entry["answer"]
    try:
        record_feedback(
            feedback_path(settings.index_dir),
            entry["question"],
            answer.to_json(),
            answer.build_id,
            helpful,
            comment.strip(),
        )
    except (sqlite3.Error, OSError):
        traceback.print_exc(file=sys.stderr)
        st.error("Could not save the feedback (see the server log).")
        return
    st.session_state[f"feedback_done_{entry['id']}"] = True
    st.success("Thank you \u2014 feedback saved.")


def render_feedback(settings: Settings, entry: dict) -> None:
    """Helpful / not helpful with an optional comment, stored beside the index."""
    key = entry["id"]
    if st.session_state.get(f"feedback_done_{key}"):
        st.caption("Feedback saved \u2014 thank you.")
        return
    comment_col, yes_col, no_col = st.columns([4, 1, 1], vertical_alignment="bottom")
    comment = comment_col.text_input(
        "Comment (optional)",
        key=f"feedback_comment_{key}",
        max_chars=2000,
        placeholder="Optional comment on this answer",
    )
    if yes_col.button("Helpful", key=f"feedback_yes_{key}", icon=":material/thumb_up:"):
        save_feedback(settings, entry, True, comment)
    elif no_col.button("Not helpful", key=f"feedback_no_{key}", icon=":material/thumb_down:"):
        save_feedback(settings, entry, False, comment)


def render_entry(settings: Settings, entry: dict) -> None:
    with st.chat_message("user"):
        st.markdown(escape_markdown(entry["question"]))
    with st.chat_message("assistant"):
        if entry["error"]:
            st.error(entry["error"])
            return
        answer: Answer = entry["answer"]
        if not entry["filters"].is_empty():
            st.caption("Filtered search (see the sidebar).")
        if answer.abstained:
            render_abstention(answer)
        else:
            render_quotes(answer, entry["contexts"])
            render_sources(answer, "Sources")
        render_exports(entry)
        render_feedback(settings, entry)


def main() -> None:
    st.set_page_config(page_title="bala \u2014 relapsed B-ALL evidence", layout="wide")
    st.title("bala")
    st.caption(DISCLAIMER)
    settings = load_settings()
    engine = engine_or_instructions(settings)
    if engine is None:
        return
    filters = render_sidebar(engine)
    history: list[dict] = st.session_state.setdefault("history", [])
    typed = st.chat_input("Ask about B-ALL relapsed after CAR T, blinatumomab or inotuzumab\u2026")
    question = (typed or st.session_state.pop("pending_question", None) or "").strip()
    if question:
        with st.spinner("Searching the library\u2026"):
            history.append(ask(engine, question, filters))
    if not history:
        st.info("Ask a question below, or pick an example question in the sidebar.")
    for entry in history:
        render_entry(settings, entry)


main()
