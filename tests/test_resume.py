"""An interrupted embedding run keeps what it computed: the rerun embeds only the rest."""

from __future__ import annotations

import numpy as np
import pytest

from index import embed
from index.embed import EmbeddingCache, embed_cached


class _Counting:
    """A tiny deterministic embedder that can be told to fail on its n-th call."""

    dim = 4

    def __init__(self, fail_on_call: int | None = None):
        self.calls, self.texts, self.fail_on_call = 0, 0, fail_on_call

    def encode(self, texts, progress=False):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        self.texts += len(texts)
        return np.array([[len(t), t.count("a"), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_vectors_reach_the_cache_slice_by_slice_and_a_rerun_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "EMBED_SLICE", 3)
    texts = [f"passage {'a' * i}" for i in range(10)]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    broken = _Counting(fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        embed_cached(texts, "m", cache, lambda: broken)
    assert broken.texts == 6  # two slices finished before the interruption
    again = _Counting()
    vectors, computed = embed_cached(texts, "m", cache, lambda: again)
    assert computed == 4 and again.texts == 4
    assert np.array_equal(vectors, _Counting().encode(texts))
    cache.close()
