"""Every chunk row's BM25 tokens as integer term ids, kept beside the BM25 index.

BM25 scores depend on every row (document frequencies, mean length), so adding a paper
rebuilds the score matrix; with the rows' term ids saved, that rebuild needs neither the
stored texts nor a tokenizer pass over them: the kept rows are sliced out, the new rows
appended, and unused terms dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

TERMS_FILE, IDS_FILE, OFFSETS_FILE = "row_terms.json", "row_term_ids.npy", "row_offsets.npy"


@dataclass(frozen=True)
class RowTerms:
    """Row r's tokens are `terms[i] for i in ids[offsets[r]:offsets[r + 1]]`."""

    terms: tuple[str, ...]
    ids: np.ndarray  # int32, every row's term ids, row after row
    offsets: np.ndarray  # int64, one more than there are rows

    @classmethod
    def empty(cls) -> RowTerms:
        return cls((), np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64))

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> RowTerms:
        return cls.empty().extend(tokens)

    @property
    def n_rows(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def vocab(self) -> dict[str, int]:
        """term -> id (a new dict each time: bm25s adds its empty token to the one it gets)."""
        return {term: i for i, term in enumerate(self.terms)}

    def tokens(self, row: int) -> list[str]:
        return [self.terms[i] for i in self.ids[self.offsets[row] : self.offsets[row + 1]]]

    def extend(self, tokens: list[list[str]]) -> RowTerms:
        """These rows appended; new terms get the next ids in first-seen order."""
        vocab = self.vocab
        for term in chain.from_iterable(tokens):
            vocab.setdefault(term, len(vocab))
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        new_ids = np.fromiter(
            map(vocab.__getitem__, chain.from_iterable(tokens)),
            dtype=np.int32,
            count=int(lengths.sum()),
        )
        offsets = np.concatenate([self.offsets, self.offsets[-1] + np.cumsum(lengths)])
        return RowTerms(tuple(vocab), np.concatenate([self.ids, new_ids]), offsets)

    def take(self, rows: list[int] | np.ndarray) -> RowTerms:
        """Only these rows (ascending), in their order; unused terms are dropped."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == self.n_rows:
            return self
        lengths = self.lengths[rows]
        starts = np.repeat(self.offsets[rows], lengths)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return RowTerms(self.terms, self.ids[starts + within], offsets)._compact()

    def _compact(self) -> RowTerms:
        used = np.zeros(len(self.terms), dtype=bool)
        used[self.ids] = True
        if used.all():
            return self
        new_id = np.cumsum(used) - 1
        terms = tuple(t for t, keep in zip(self.terms, used, strict=True) if keep)
        return RowTerms(terms, new_id[self.ids].astype(np.int32), self.offsets)

    def save(self, directory: Path) -> None:
        (directory / TERMS_FILE).write_text(json.dumps(self.terms), encoding="utf-8")
        np.save(directory / IDS_FILE, self.ids, allow_pickle=False)
        np.save(directory / OFFSETS_FILE, self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> RowTerms:
        terms = tuple(json.loads((directory / TERMS_FILE).read_text(encoding="utf-8")))
        ids = np.load(directory / IDS_FILE, allow_pickle=False)
        offsets = np.load(directory / OFFSETS_FILE, allow_pickle=False)
        if len(ids) != offsets[-1] or (len(ids) and ids.max() >= len(terms)):
            raise ValueError(f"{directory}: row term files do not fit together")
        return cls(terms, ids, offsets)
