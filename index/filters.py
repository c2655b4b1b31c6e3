"""Source filters of a search (year, kind, evidence labels, source ids), engine-neutral.

Every retriever applies the same `Filters`: the local index turns them into allowed rows,
the Milvus index into a boolean expression over the passage fields (`source_passes` is the
one rule both follow, tested equal by tests/test_engines.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """Optional restrictions; None means no restriction."""

    source_ids: frozenset[str] | None = None
    year_min: int | None = None
    year_max: int | None = None
    kinds: frozenset[str] | None = None  # review | article | other
    # Evidence labels (names in ingest/labels.py); a source passes when it has one of them.
    designs: frozenset[str] | None = None
    populations: frozenset[str] | None = None
    diseases: frozenset[str] | None = None

    def is_empty(self) -> bool:
        plain = (self.source_ids, self.year_min, self.year_max, self.kinds)
        return all(v is None for v in plain) and self.labels_empty()

    def labels_empty(self) -> bool:
        return self.designs is None and self.populations is None and self.diseases is None

    def passes_labels(self, source) -> bool:
        """Whether a source has one of the asked designs, populations and diseases ("both"
        passes a pediatric or adult filter)."""
        if self.designs is not None and source.design not in self.designs:
            return False
        if self.populations is not None:
            allowed = set(self.populations)
            if allowed & {"pediatric", "adult"}:
                allowed.add("both")
            if source.population not in allowed:
                return False
        return self.diseases is None or bool(set(source.diseases) & self.diseases)

    def source_passes(self, source) -> bool:
        """Whether a source passes every restriction (the rule both engines apply)."""
        if self.source_ids is not None and source.source_id not in self.source_ids:
            return False
        if self.kinds is not None and source.kind not in self.kinds:
            return False
        if not self.labels_empty() and not self.passes_labels(source):
            return False
        year = source.year
        if self.year_min is not None and (year is None or year < self.year_min):
            return False
        return self.year_max is None or (year is not None and year <= self.year_max)
