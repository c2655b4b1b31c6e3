"""Rendering one answer in Streamlit: quotes first, AMA sources, exports, private feedback.

All library text goes through app/ui_text.escape_markdown; the only raw HTML is the static
style sheet below (no document or user text in it).
"""

from __future__ import annotations

import sqlite3
import sys
import traceback

import streamlit as st

from app.cited_view import render_cited_evidence
from app.engine.answer_types import ABSTAIN_MESSAGE, Answer, CitedSource, unaddressed_line
from app.engine.citations import (
    ama_reference,
    answer_bibtex,
    answer_csl_json,
    answer_markdown,
    answer_ris,
    evidence_label_parts,
    format_quote,
)
from app.feedback import record_feedback
from app.ui_text import escape_markdown, highlighted_markdown
from app.views import cited_pages, permalink_query, quote_flags, short_source_label
from core.ids import doi_url, pubmed_url
from core.settings import Settings
from index.layout import feedback_path

# Quotes are the evidence: full contrast, larger than the text around them, a strong rule.
STYLE = """<style>
[data-testid="stChatMessage"] blockquote {
  opacity: 1 !important; color: inherit !important; font-size: 1.08rem; line-height: 1.55;
  border-left: 0.3rem solid #1b5fbf; padding: 0.1rem 0 0.1rem 0.9rem; margin: 0.4rem 0;
}
[data-testid="stChatMessage"] blockquote p { opacity: 1 !important; color: inherit !important; }
[data-testid="stChatMessage"] { scroll-margin-top: 4rem; }
</style>"""


# After an answer, show its question and first quote: Streamlit's chat view sticks to the
# bottom (sources, feedback), so bring the newest question to the top for 6 seconds (a slow
# machine draws the cited evidence and feedback late, and the view sticks to the bottom again),
# unless the reader scrolls first. Static script; the only value in it is a hex answer id.
SCROLL_SCRIPT = """<script>
(() => {
  const target = "bala-q-%s";
  let tries = 0, stopped = false;
  const stop = () => { stopped = true; };
  ["wheel", "touchstart", "keydown"].forEach(t => window.addEventListener(t, stop, {once: true}));
  const go = () => {
    if (stopped) return;
    const el = document.getElementById(target);
    const msg = el && el.closest('[data-testid="stChatMessage"]');
    if (msg) msg.scrollIntoView({block: "start"});
    if (++tries < 40) setTimeout(go, 150);
  };
  go();
})();
</script>"""


def apply_style() -> None:
    st.html(STYLE)


def scroll_to_question(entry_id: str) -> None:
    """Scroll the newest question (anchor `bala-q-<id>`) to the top of the view."""
    if entry_id.isalnum():
        st.html(SCROLL_SCRIPT % entry_id, unsafe_allow_javascript=True)


def render_quotes(answer: Answer, contexts: list, locations: list[str]) -> None:
    """Each quote (the most prominent text) with its [n, p.] label and source beside it, and
    an expander that shows the passage around it and says where the passage is."""
    sources = {c.citation: c.source for c in answer.sources}
    for i, q in enumerate(answer.quotes, start=1):
        label = (
            escape_markdown(short_source_label(sources[q.citation]))
            if q.citation in sources
            else ""
        )
        flags = " ".join(f":orange-badge[{escape_markdown(f)}]" for f in quote_flags(q))
        labels = evidence_label_parts(sources.get(q.citation))
        flags = " ".join(f":blue-badge[{escape_markdown(p)}]" for p in labels) + " " + flags
        beside = f" \u2014 {label}" if label else ""
        quote = format_quote(q, sources.get(q.citation), with_note=False, with_labels=False)
        st.markdown(f"> {escape_markdown(quote)}{beside} {flags}".rstrip())
        where = locations[i - 1] if i - 1 < len(locations) else ""
        title = f"Passage around quote {i}" + (f" \u2014 {where}" if where else "")
        with st.expander(escape_markdown(title)):
            ctx = contexts[i - 1] if i - 1 < len(contexts) else None
            if ctx is None:
                st.text(q.text)
            else:
                st.markdown(highlighted_markdown(ctx))
            place = f"{where} of " if where else ""
            st.caption(
                f"{escape_markdown(place)}source \\[{q.citation}\\] \u00b7 quote highlighted"
            )
        render_cited_evidence(answer, i - 1)  # what the quoted sentence cites


def source_lines(cited: CitedSource, pages: list[int]) -> list[str]:
    """Markdown for one source: the AMA reference (escaped), quoted pages, PubMed/DOI links."""
    s = cited.source
    label = "" if cited.supporting else " \u2014 *closest, not supporting*"
    lines = [f"**\\[{cited.citation}\\]** {escape_markdown(ama_reference(s))}{label}"]
    links = []
    if pages:
        links.append("quoted from p. " + ", ".join(s.page_label(p) for p in pages))
    if url := pubmed_url(s.pmid):
        links.append(f"[PubMed {s.pmid}]({url})")
    if url := doi_url(s.doi):
        links.append(f"[doi.org]({url})")
    return lines + ([" \u00b7 ".join(links)] if links else [])


def render_sources(answer: Answer, heading: str) -> None:
    st.markdown(f"**{heading}**")
    for cited in answer.sources:
        with st.container(border=True):
            st.markdown("  \n".join(source_lines(cited, cited_pages(answer, cited))))


def render_abstention(answer: Answer) -> None:
    detail = (
        "Passages on this topic are indexed, but none answers the question, so none is quoted."
        if getattr(answer, "reason", "") == "no-answer"
        else "No passage in the library supports an answer strongly enough to quote it, "
        "so none is given."
    )
    st.warning(f"**{ABSTAIN_MESSAGE}.** {detail}", icon="\u26a0\ufe0f")
    if answer.missing_terms:
        missing = ", ".join(escape_markdown(t) for t in answer.missing_terms)
        st.markdown(f"No indexed passage mentions: {missing}.")
    if getattr(answer, "mentioned_terms", ()):
        terms = ", ".join(escape_markdown(t) for t in answer.mentioned_terms)
        st.markdown(f"Indexed passages mention {terms}, but none retrieved answers this.")
    if getattr(answer, "unaddressed", ()):
        st.markdown(escape_markdown(unaddressed_line(answer)))
    if answer.sources:
        render_sources(answer, "Closest sources (closest, not supporting)")


EXPORTS = (  # label, function, extension, MIME type
    ("Markdown", answer_markdown, "md", "text/markdown"),
    ("BibTeX", answer_bibtex, "bib", "application/x-bibtex"),
    ("RIS", answer_ris, "ris", "application/x-research-info-systems"),
    ("CSL-JSON", answer_csl_json, "json", "application/vnd.citationstyles.csl+json"),
)


def render_exports(entry: dict) -> None:
    """Every answer (abstentions too) exports with its question, date, build and disclaimer."""
    answer: Answer = entry["answer"]
    stem = f"bala-answer-{entry['id']}"
    cols = st.columns([1, 1, 1, 1, 2])
    for col, (label, export, ext, mime) in zip(cols, EXPORTS):
        col.download_button(
            f"Export {label}",
            export(answer, entry.get("asked_at")),
            file_name=f"{stem}.{ext}",
            mime=mime,
            key=f"{ext}_{entry['id']}",
            on_click="ignore",
        )


def render_audit(entry: dict) -> None:
    """Build id and the permalink (build id + answer id; the question is not in it)."""
    answer: Answer = entry["answer"]
    link = permalink_query(answer.build_id, entry["id"])
    kept = "" if entry.get("stored") else " (not kept: see the server log)"
    st.caption(
        f"Build {escape_markdown(answer.build_id)} \u00b7 answer {entry['id']} \u00b7 "
        f"[permalink]({link}){kept} \u2014 opens the quotes and sources, not the question"
    )


def save_feedback(settings: Settings, entry: dict, helpful: bool, include: bool) -> None:
    answer: Answer = entry["answer"]
    key = entry["id"]
    comment = st.session_state.get(f"feedback_comment_{key}", "") if include else None
    try:
        record_feedback(
            feedback_path(settings.index_dir),
            build_id=answer.build_id,
            helpful=helpful,
            source_ids=[c.source.source_id for c in answer.sources],
            answer_id=key,
            user_id=entry.get("user"),
            question=entry["question"] if include else None,
            comment=comment,
        )
    except (sqlite3.Error, OSError):
        traceback.print_exc(file=sys.stderr)
        st.session_state[f"feedback_error_{key}"] = True
        return
    st.session_state[f"feedback_done_{key}"] = True


def render_feedback(settings: Settings, entry: dict) -> None:
    """Helpful / not helpful; the question and a comment are kept only when ticked."""
    key = entry["id"]
    if st.session_state.get(f"feedback_done_{key}"):
        st.success("Thank you \u2014 feedback saved.")
        return
    if st.session_state.pop(f"feedback_error_{key}", False):
        st.error("Could not save the feedback (see the server log).")
    include = st.checkbox(
        "Include my question and a comment with this feedback (identifiers are masked)",
        key=f"feedback_include_{key}",
    )
    if include:
        st.text_input(
            "Comment (optional)",
            key=f"feedback_comment_{key}",
            max_chars=2000,
            placeholder="Optional comment on this answer",
        )
    else:
        st.caption("Saved without your question: the verdict, build id and cited sources only.")
    yes_col, no_col, _ = st.columns([1, 1, 3])
    yes_col.button(
        "Helpful",
        key=f"feedback_yes_{key}",
        icon=":material/thumb_up:",
        on_click=save_feedback,
        args=(settings, entry, True, include),
    )
    no_col.button(
        "Not helpful",
        key=f"feedback_no_{key}",
        icon=":material/thumb_down:",
        on_click=save_feedback,
        args=(settings, entry, False, include),
    )
