"""Streamlit pieces for a review's references: what a quote's sentence cites (an expander
under the quote) and, in the sidebar, each indexed work's cited / in library / missing with a
download of the missing list. Kept apart from app/streamlit_app.py, which calls them."""

from __future__ import annotations

import streamlit as st

from app.engine.citations import quote_text
from app.ui_text import escape_markdown


def _work_markdown(work) -> str:
    head = f"**[{work.n}] {escape_markdown(work.label)}**"
    if work.status == "not in library":
        ids = f"PMID {work.pmid}" if work.pmid else f"doi {work.doi}" if work.doi else "no PMID/DOI"
        return f"{head} \u2014 not in library: {escape_markdown(ids)}"
    if work.quote is None:
        return f"{head} \u2014 in library, cited, not supporting"
    q = work.quote
    page = f", p. {q.page}" if q.page else ""
    return (
        f"{head} \u2014 cited by the review:\n\n> \u201c{escape_markdown(quote_text(q))}\u201d "
        f"({escape_markdown(q.source_id)}{page})"
    )


def render_cited_evidence(answer, quote_index: int) -> None:
    """An expander under a review quote listing the works its sentence cites."""
    for evidence in getattr(answer, "cited_evidence", ()):
        if evidence.quote_index != quote_index:
            continue
        supporting = sum(1 for w in evidence.works if w.quote is not None)
        label = f"Cites {len(evidence.works)} work(s) \u00b7 {supporting} in the library support it"
        with st.expander(label):
            for work in evidence.works:
                st.markdown(_work_markdown(work))


@st.cache_resource(show_spinner=False, max_entries=4)  # not cache_data: that pickles its values
def _coverage(index_dir: str, build_id: str) -> tuple[dict, ...]:
    """Coverage rows and each work's missing references as RIS (once per build; the same rows
    are handed to every session, which only reads them)."""
    from core.settings import load_settings
    from index import layout
    from index.review_refs import missing_as, reference_coverage, review_refs
    from index.store import Store

    build = layout.current_build(load_settings(index_dir).index_dir)
    store = Store(build / "store.sqlite")
    try:
        rows = reference_coverage(store)
        sources = list(store.sources.values())
        for row in rows:
            refs = review_refs(store.document(row["source_id"]), sources)
            row["missing_ris"] = missing_as(refs, "ris")
    finally:
        store.close()
    return tuple(rows)


def render_reference_coverage(engine) -> None:
    """Sidebar: cited / in library / missing for each indexed work with a reference list."""
    rows = _coverage(str(engine.settings.index_dir), engine.retriever.build_id)
    if not rows:
        return
    st.header("Reference coverage")
    for i, row in enumerate(rows):
        st.markdown(
            f"**{escape_markdown(row['title'][:60] or row['source_id'])}** \u00b7 "
            f"{row['cited']} cited \u00b7 {row['in_library']} in library \u00b7 "
            f"{row['missing']} missing"
        )
        if row["missing"]:
            st.download_button(
                "Missing references (RIS)",
                row["missing_ris"],
                file_name="missing-references.ris",
                key=f"missing_{i}",
            )
