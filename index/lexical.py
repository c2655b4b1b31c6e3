"""BM25 over chunk texts with bm25s, saved as plain files (no pickle)."""

from __future__ import annotations

import re
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

# Keeps biomedical tokens whole enough: "CD19", "IL-6" -> "il", "6", "t(9;22)" -> "9", "22".
TOKEN_PATTERN = r"(?u)\b\w+\b"
# Bump when `tokenize` changes: builds store tokens, and stale ones must not be reused.
TOKENIZER_VERSION = 1
_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(TOKEN_PATTERN)
_STOP = set(bm25s.stopwords.STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Lowercased, stop-worded, Snowball-stemmed tokens (the same rule for corpus and query)."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return _STEMMER.stemWords(words)


class Bm25Index:
    """BM25 scores for every chunk row; rows align with the FAISS rows and the chunk table."""

    def __init__(self, model: bm25s.BM25):
        self.model = model
        self.vocab = model.vocab_dict

    @classmethod
    def build(cls, texts: list[str], k1: float = 0.5, b: float = 0.5) -> Bm25Index:
        return cls.from_tokens([tokenize(t) for t in texts], k1, b)

    @classmethod
    def from_tokens(cls, tokens: list[list[str]], k1: float = 0.5, b: float = 0.5) -> Bm25Index:
        """An index over already tokenized passages (`tokenize` output, row-aligned)."""
        model = bm25s.BM25(k1=k1, b=b)
        model.index([t or ["__empty__"] for t in tokens], show_progress=False)
        return cls(model)

    def save(self, directory: Path) -> None:
        self.model.save(str(directory), show_progress=False, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        model = bm25s.BM25.load(str(directory), allow_pickle=False, show_progress=False)
        return cls(model)

    @property
    def num_docs(self) -> int:
        return int(self.model.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no query term is known)."""
        tokens = [t for t in tokenize(query) if t in self.vocab]
        if not tokens:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (row, score) with score > 0; `mask` (bool per row) restricts candidates."""
        scores = self.scores(query)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        return top_k(scores, k)


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Positive entries of `scores`, best first, ties by row for determinism."""
    positive = np.flatnonzero(scores > 0)
    if positive.size == 0:
        return []
    k = min(k, positive.size)
    part = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    order = sorted(part.tolist(), key=lambda r: (-float(scores[r]), r))
    return [(int(r), float(scores[r])) for r in order]


def idf_table(index: Bm25Index) -> dict[str, float]:
    """log(N / df) per vocabulary term, from the BM25 matrix's column pointers."""
    df = np.diff(np.asarray(index.model.scores["indptr"]))
    n = max(index.num_docs, 1)
    return {
        t: float(np.log((n + 1) / (df[i] + 0.5))) for t, i in index.vocab.items() if i < len(df)
    }
