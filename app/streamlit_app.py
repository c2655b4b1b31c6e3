"""The clinician app: ask, read verbatim cited quotes in context, export, give feedback.

Run with `bala serve --index DIR` or `BALA_INDEX=DIR streamlit run app/streamlit_app.py`.
Document and user text is only ever shown escaped (app/ui_text.py); the only raw HTML is the
app's own static style sheet, scroll script and anchors (app/answer_view.py). Sign-in: app/signin.py;
privacy: app/privacy.py and app/feedback.py; see docs/app.md.
"""

from __future__ import annotations

import sqlite3
import sys
import traceback
import uuid
from datetime import UTC, datetime

import streamlit as st

from app.answer_view import (
    apply_style,
    render_abstention,
    render_audit,
    render_exports,
    render_feedback,
    render_quotes,
    render_sources,
    scroll_to_question,
)
from app.cited_view import render_reference_coverage
from app.engine.answer import Engine
from app.engine.answer_types import Answer
from app.engine.citations import DESIGN_NAMES
from app.feedback import load_answer, store_answer
from app.privacy import MAX_QUESTION_CHARS, mask_identifiers, question_problem
from app.signin import PRIVACY_NOTICE, signed_in_user
from app.ui_text import Context, context_window, escape_markdown
from app.views import answer_from_json, describe_filters, label_options, passage_location
from core.settings import Settings, load_settings
from index.layout import IndexMissingError, current_build, feedback_path
from index.manifest import IndexMismatchError
from index.milvus_build import MilvusUnavailableError
from index.retrieve import Filters
from index.retriever import describe_engine
from index.store import read_rows_of

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
    except MilvusUnavailableError as exc:
        st.error(escape_markdown(str(exc)))  # names the URI; reload once Milvus is back
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
    sources = engine.retriever.sources.values()
    kinds: dict[str, int] = {}
    for s in sources:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    manifest = engine.retriever.manifest
    st.header("Indexed library")
    st.markdown(f"**{len(sources)}** sources \u00b7 **{engine.retriever.count()}** passages")
    st.caption(" \u00b7 ".join(f"{kind.title()}s: {n}" for kind, n in sorted(kinds.items())))
    st.caption(f"Build {escape_markdown(engine.retriever.build_id)}")
    st.caption(f"Engine: {escape_markdown(describe_engine(engine.retriever))}")
    st.caption(f"Built {escape_markdown(manifest.created_at)}")
    st.caption(
        f"Model {escape_markdown(manifest.model.id)} ({escape_markdown(manifest.model.backend)})"
    )
    if engine.retriever.warning:
        st.warning(escape_markdown(engine.retriever.warning))


def render_filters(engine: Engine) -> Filters:
    """Source-type and publication-year filters for retrieval."""
    st.header("Filters")
    choice = st.radio("Source type", list(KIND_CHOICES), key="kind_filter")
    years = sorted({s.year for s in engine.retriever.sources.values() if s.year})
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
    designs, populations, diseases = render_label_filters(engine)
    return Filters(
        year_min=year_min,
        year_max=year_max,
        kinds=KIND_CHOICES[choice],
        designs=designs,
        populations=populations,
        diseases=diseases,
    )


def render_label_filters(engine: Engine) -> tuple:
    """Study design, population and disease filters (the CLI's `ask --design/--population/
    --disease`), offering the labels the library's sources carry; None = no restriction."""
    options = label_options(engine.retriever.sources.values())
    names = {"design": "Study design", "population": "Population", "disease": "Disease"}
    chosen = []
    for key, values in options.items():
        if not values:
            chosen.append(None)
            continue
        picked = st.multiselect(
            names[key],
            values,
            key=f"{key}_filter",
            format_func=lambda v: DESIGN_NAMES.get(v) or v,
            placeholder="any",
        )
        chosen.append(frozenset(picked) if picked else None)
    if any(c is not None for c in chosen):
        st.caption("Sources without the chosen labels are left out while narrowed.")
    return tuple(chosen)


def queue_question(question: str) -> None:
    st.session_state["pending_question"] = question


def render_sidebar(engine: Engine) -> Filters:
    with st.sidebar:
        render_index_summary(engine)
        render_reference_coverage(engine)
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


def quote_places(engine: Engine, answer: Answer) -> tuple[list[Context | None], list[str]]:
    """The stored text around each quote, and where its passage is in words (page, section);
    read once, when the answer is made."""
    docs: dict = {}
    rows = read_rows_of(
        engine.retriever.catalogue.path, [q.chunk_id for q in answer.quotes if q.chunk_id]
    )
    contexts: list[Context | None] = []
    locations: list[str] = []
    for q in answer.quotes:
        try:
            if q.source_id not in docs:
                docs[q.source_id] = engine.retriever.catalogue.document(q.source_id)
            doc = docs[q.source_id]
            contexts.append(context_window(doc.text, q.start, q.end))
            pages = doc.pages_for(q.start, q.end)
        except KeyError:
            contexts.append(None)
            pages = ()
        chunk = engine.retriever.chunks([rows[q.chunk_id]])[0] if q.chunk_id in rows else None
        locations.append(passage_location(pages, chunk.section if chunk else ""))
    return contexts, locations


def ask(engine: Engine, settings: Settings, question: str, filters: Filters, user) -> dict:
    """A history entry for one question; errors become a short message, traceback to stderr
    (with identifiers masked). The answer, without its question, is kept for its permalink."""
    masked = mask_identifiers(question)  # identifiers never reach the engine, logs or exports
    entry = {
        "id": uuid.uuid4().hex[:12],
        "asked_at": datetime.now(UTC),
        "question": masked,
        "masked": masked != question,
        "filters": filters,
        "filter_label": describe_filters(filters),
        "user": user,
        "answer": None,
        "contexts": [],
        "locations": [],
        "error": question_problem(question),
    }
    if entry["error"]:
        return entry
    try:
        answer = engine.ask(masked, filters=filters)
        contexts, locations = quote_places(engine, answer)
        entry.update(answer=answer, contexts=contexts, locations=locations)
    except MilvusUnavailableError as exc:  # the engine and the history stay as they were
        entry.update(error=str(exc))
        return entry
    except Exception:  # noqa: BLE001 - any failure must reach the user as a message only
        print(f"bala app: answering {masked!r} failed", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        entry.update(error=ERROR_TEXT)
        return entry
    try:
        store_answer(feedback_path(settings.index_dir), entry["id"], answer.to_json(), user)
        entry["stored"] = True
    except (sqlite3.Error, OSError):
        traceback.print_exc(file=sys.stderr)
    return entry


# --- rendering -----------------------------------------------------------------------------


def shown_question(question: str) -> str:
    """The question as echoed back: whole when it fits the limit, else its beginning."""
    if len(question) <= MAX_QUESTION_CHARS:
        return escape_markdown(question)
    return escape_markdown(question[:200]) + f" … *({len(question):,} characters)*"


def render_answer(settings: Settings, entry: dict) -> None:
    answer: Answer = entry["answer"]
    if entry.get("filter_label"):
        st.markdown(f":blue-badge[Filtered: {escape_markdown(entry['filter_label'])}]")
    if answer.abstained:
        render_abstention(answer)
    else:
        render_quotes(answer, entry["contexts"], entry["locations"])
        st.caption(escape_markdown(answer.message))
        render_sources(answer, "Sources")
    render_audit(entry)
    render_exports(entry)
    if entry.get("permalink"):
        return
    render_feedback(settings, entry)


def render_entry(settings: Settings, entry: dict) -> None:
    with st.chat_message("user"):
        st.markdown(shown_question(entry["question"]))
        if entry.get("masked"):
            st.caption("Record numbers, dates and names were masked before searching.")
        st.html(f'<span id="bala-q-{entry["id"]}"></span>')  # scroll anchor, hex id only
    with st.chat_message("assistant"):
        if entry["error"]:
            st.error(entry["error"])
            return
        render_answer(settings, entry)


def open_permalink(settings: Settings) -> bool:
    """Show the answer a permalink names (?build=…&answer=…); True when one was asked for."""
    params = st.query_params
    build_id, answer_id = params.get("build"), params.get("answer")
    if not (build_id and answer_id):
        return False
    stored = load_answer(feedback_path(settings.index_dir), build_id, answer_id)
    st.subheader("A kept answer")
    if stored is None:
        st.warning("No answer is kept under this link (it may have been purged).")
        return True
    answer = answer_from_json(stored)
    entry = {
        "id": answer_id,
        "question": "",
        "answer": answer,
        "contexts": [None] * len(answer.quotes),
        "locations": [],
        "filter_label": "",
        "permalink": True,
        "stored": True,
    }
    with st.chat_message("user"):
        st.markdown("*The question is not kept with a permalink.*")
    with st.chat_message("assistant"):
        render_answer(settings, entry)
    st.markdown("[Ask a new question](?)")
    return True


def render_active_filter(filters: Filters) -> None:
    """The active filter above the answers (the sidebar is folded away on a phone)."""
    label = describe_filters(filters)
    if label:
        st.markdown(
            f":blue-badge[Active filter: {escape_markdown(label)}] "
            ":gray[(change it in the sidebar)]"
        )


def main() -> None:
    st.set_page_config(page_title="bala \u2014 relapsed B-ALL evidence", layout="wide")
    apply_style()
    user = signed_in_user()
    st.title("bala")
    st.caption(DISCLAIMER)
    st.info(PRIVACY_NOTICE, icon=":material/lock:")
    settings = load_settings()
    if open_permalink(settings):
        return
    engine = engine_or_instructions(settings)
    if engine is None:
        return
    filters = render_sidebar(engine)
    render_active_filter(filters)
    history: list[dict] = st.session_state.setdefault("history", [])
    typed = st.chat_input("Ask about B-ALL relapsed after CAR T, blinatumomab or inotuzumab\u2026")
    question = (typed or st.session_state.pop("pending_question", None) or "").strip()
    if question:
        with st.spinner("Searching the library\u2026"):
            history.append(ask(engine, settings, question, filters, user))
    if not history:
        st.info("Ask a question below, or pick an example question in the sidebar.")
    for entry in history:
        render_entry(settings, entry)
    if question and history:
        scroll_to_question(history[-1]["id"])


main()
