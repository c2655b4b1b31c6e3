"""What an answer is: verbatim quotes with citations, numbered sources, or an abstention."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.types import Source

ABSTAIN_MESSAGE = "Insufficient evidence in the indexed library"
NO_ANSWER_MESSAGE = (
    "Insufficient evidence in the indexed library: passages on this topic are indexed, "
    "but none answers the question"
)


@dataclass(frozen=True)
class Quote:
    """An exact slice `stored_text[start:end]` of one source, cited as [citation]."""

    text: str
    source_id: str
    start: int
    end: int
    page: int | None
    citation: int
    score: float
    chunk_id: str = ""
    note: str = ""  # e.g. "about DLBCL, not B-ALL": indirect evidence, demoted and labelled
    leading_ellipsis: bool = False  # the stored excerpt starts mid-sentence (display "…")
    trailing_ellipsis: bool = False  # ... or ends mid-sentence; the text stays an exact slice
    display_text: str = ""  # the text with citation marks hidden (app/engine/cited.py); "" = text


@dataclass(frozen=True)
class CitedSource:
    """A source as listed under an answer, numbered in order of first use."""

    citation: int
    source: Source
    supporting: bool = True  # False for "closest, not supporting" sources of an abstention


@dataclass(frozen=True)
class Answer:
    question: str
    abstained: bool
    message: str
    quotes: tuple[Quote, ...]
    sources: tuple[CitedSource, ...]
    build_id: str
    timings_ms: dict = field(default_factory=dict)
    dropped_quotes: int = 0  # quotes that failed verification (must stay 0)
    missing_terms: tuple[str, ...] = ()  # named terms no indexed passage mentions
    cited_evidence: tuple = ()  # app.engine.cited.CitedEvidence per quote that cites works
    reason: str = ""  # abstentions: "off-topic" | "no-answer"
    mentioned_terms: tuple[str, ...] = ()  # named terms the library has, but no top passage
    scorer: str = ""  # id of the answer scorer that chose the quotes
    unaddressed: tuple[str, ...] = ()  # "How is X graded?": no retrieved passage speaks of it

    def to_json(self) -> dict:
        """The `bala ask --json` contract: keys may be added, never removed."""
        return {
            "question": self.question,
            "abstained": self.abstained,
            "message": self.message,
            "quotes": [
                {
                    "text": q.text,
                    "source_id": q.source_id,
                    "start": q.start,
                    "end": q.end,
                    "page": q.page,
                    "page_label": _page_label(self.sources, q),
                    "citation": q.citation,
                    "score": round(q.score, 4),
                    "chunk_id": q.chunk_id,
                    "note": q.note,
                    "leading_ellipsis": q.leading_ellipsis,
                    "trailing_ellipsis": q.trailing_ellipsis,
                    "display_text": q.display_text or q.text,
                }
                for q in self.quotes
            ],
            "sources": [_source_json(c) for c in self.sources],
            "build_id": self.build_id,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "dropped_quotes": self.dropped_quotes,
            "missing_terms": list(self.missing_terms),
            "cited_evidence": [c.to_json() for c in self.cited_evidence],
            "reason": self.reason,
            "mentioned_terms": list(self.mentioned_terms),
            "scorer": self.scorer,
            "unaddressed": list(self.unaddressed),
        }


def _page_label(sources: tuple[CitedSource, ...], quote: Quote) -> str:
    """The citable (journal) page of a quote's PDF page, '' for unpaged text."""
    source = next((c.source for c in sources if c.citation == quote.citation), None)
    return source.page_label(quote.page) if source else str(quote.page or "")


def _source_json(cited: CitedSource) -> dict:
    s = cited.source
    data = {"citation": cited.citation, "supporting": cited.supporting}
    data.update(asdict(s))
    data["authors"] = list(s.authors)
    return data


def unaddressed_line(answer) -> str:
    """What an abstention says when no passage speaks of the process asked about, or when no
    passage that would be quoted gives the figure the question asks for."""
    asked = getattr(answer, "unaddressed", ())
    if asked and asked[0].startswith(("how ", "what ")):  # a figure (app/engine/query.py)
        return f"The closest passages give no figure, and the question asks \u201c{asked[0]}\u201d."
    return f"None of the retrieved passages says how it is {' or '.join(asked)}."
