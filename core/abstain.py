"""The one abstention rule, used by the answer engine and by `bala bench abstention`.

Pure: it reads the strength of a question's best evidence (numbers the engine measured) and
the bars of the answer settings, and says whether to answer, and if not, why:
- OFF_TOPIC: nothing in the library is about the question - a term it names (drug, antigen,
  gene) is in no indexed passage, or the best passage is far in meaning (cosine below
  `min_cosine`) or covers too little of its content words (overlap below `min_overlap`);
  a best passage under `min_cosine` still counts as on topic when the `Rescue` admits it: its
  best sentence covers most of the question's terms and the answer scorer is confident (short
  questions naming a rare drug or gene sit far from every passage in embedding space);
- NO_ANSWER: the topic is in the library but no candidate answers - the best answer score is
  below `min_answer` (or below `min_combined` for the legacy scorer), or the passages that
  mention the named terms are not among the retrieved ones, or no candidate speaks of the
  process a "How is X graded?" question asks about.
"""

from __future__ import annotations

from dataclasses import dataclass

ANSWER, OFF_TOPIC, NO_ANSWER = "answer", "off-topic", "no-answer"


@dataclass(frozen=True)
class Strength:
    """What the rule decides on (eval rows carry the same fields as JSON)."""

    best_cosine: float = 0.0
    best_overlap: float = 0.0
    best_combined: float = 0.0
    best_answer: float = 1.0  # the answer scorer's best probability (1.0: no scorer)
    has_candidates: bool = True
    missing_in_library: tuple[str, ...] = ()  # named terms no indexed passage mentions
    missing_in_retrieved: tuple[str, ...] = ()  # named terms no retrieved passage mentions
    # the process a "How is X graded?" question asks about, when no candidate speaks of it
    unaddressed: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, row: dict) -> Strength:
        fields = cls.__dataclass_fields__
        kept = {k: v for k, v in row.items() if k in fields}
        if "missing_in_library" not in row:  # older rows: one list of missing terms
            kept["missing_in_library"] = row.get("missing_terms") or ()
        for key in ("missing_in_library", "missing_in_retrieved", "unaddressed"):
            kept[key] = tuple(kept.get(key) or ())
        return cls(**kept)


@dataclass(frozen=True)
class Rescue:
    """The second way past the meaning bar: a best passage under `min_cosine` but at least
    `cosine`, whose best sentence covers at least `overlap` of the question's terms and
    answers with probability at least `answer`. The default admits nothing (cosine 1.0 is
    past any best passage that failed `min_cosine`); the legacy scorer has no probability."""

    cosine: float = 1.0
    overlap: float = 1.0
    answer: float = 1.0

    def admits(self, s: Strength) -> bool:
        return (
            s.best_cosine >= self.cosine
            and s.best_overlap >= self.overlap
            and s.best_answer >= self.answer
        )


NO_RESCUE = Rescue()


def rescue_of(cfg) -> Rescue:
    """The rescue the answer settings `cfg` ask for: only the answer scorer has a probability
    to be confident with (the legacy scorer gets none)."""
    if getattr(cfg, "scorer", "legacy") != "answer":
        return NO_RESCUE
    return Rescue(cfg.rescue_cosine, cfg.rescue_overlap, cfg.rescue_answer)


def decide(
    s: Strength,
    min_cosine: float,
    min_overlap: float,
    min_combined: float = 0.0,
    min_answer: float = 0.0,
    rescue: Rescue = NO_RESCUE,
) -> str:
    """ANSWER, OFF_TOPIC or NO_ANSWER for evidence of this strength at these bars."""
    if s.missing_in_library:
        return OFF_TOPIC
    on_topic = s.best_cosine >= min_cosine or rescue.admits(s)
    if s.missing_in_retrieved or not s.has_candidates or s.unaddressed:
        return NO_ANSWER if on_topic else OFF_TOPIC
    if not on_topic or s.best_overlap < min_overlap:
        return OFF_TOPIC
    if s.best_combined < min_combined or s.best_answer < min_answer:
        return NO_ANSWER
    return ANSWER
