"""BM25 index building: bala's array build gives exactly the matrix bm25s's own loop gives."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from index.lexical import ArrayBM25, Bm25Index, tokenize
from index.row_terms import RowTerms


def _by_term(model: bm25s.BM25) -> dict[tuple[int, str], float]:
    """The score matrix as {(passage row, term): score}, independent of vocabulary numbering."""
    s = model.scores
    terms = {i: t for t, i in model.vocab_dict.items()}
    matrix = sp.csc_matrix(
        (s["data"], s["indices"], s["indptr"]), shape=(s["num_docs"], len(s["indptr"]) - 1)
    ).tocoo()
    return {
        (int(r), terms[int(c)]): float(v)
        for r, c, v in zip(matrix.row, matrix.col, matrix.data, strict=True)
    }


def _both(corpus: list[list[str]], k1: float = 0.5, b: float = 0.5):
    ours, stock = ArrayBM25(k1=k1, b=b), bm25s.BM25(k1=k1, b=b)
    ours.index(corpus, show_progress=False)
    stock.index(corpus, show_progress=False)
    return ours, stock


def test_array_build_equals_bm25s_on_passages():
    texts = [
        "Blinatumomab induced MRD-negative remission in relapsed B-ALL.",
        "CD19-negative relapse after CAR T cells; CD19 loss and lineage switch.",
        "Inotuzumab ozogamicin targets CD22 on B-ALL blasts, and CD22 density matters.",
        "Cytokine release syndrome was graded by ASTCT criteria.",
    ]
    ours, stock = _both([tokenize(t) for t in texts], k1=1.2, b=0.75)
    assert _by_term(ours) == _by_term(stock)
    assert _by_term(ours)[(2, "cd22")] > 0
    for key in ("data", "indices", "indptr"):
        assert ours.scores[key].dtype == stock.scores[key].dtype
    query = tokenize("CD22 inotuzumab")
    np.testing.assert_array_equal(ours.get_scores(query), stock.get_scores(query))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=12), min_size=1, max_size=15
    ),
    st.floats(0.1, 2.0),
    st.floats(0.0, 1.0),
)
def test_array_build_equals_bm25s_on_random_corpora(corpus, k1, b):
    ours, stock = _both(corpus, k1, b)
    assert ours.vocab_dict.keys() == stock.vocab_dict.keys()
    mine, theirs = _by_term(ours), _by_term(stock)
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert mine[key] == pytest.approx(value, rel=1e-6, abs=1e-7)


def test_array_build_refuses_other_bm25_variants():
    with pytest.raises(ValueError, match="Lucene"):
        ArrayBM25(method="bm25+")


def test_vocabulary_is_numbered_in_first_seen_order():
    index = Bm25Index.from_tokens([["relaps", "cd19"], ["cd22", "relaps"]])
    assert [t for t, _ in sorted(index.vocab.items(), key=lambda kv: kv[1])][:3] == [
        "relaps",
        "cd19",
        "cd22",
    ]


def test_saved_array_index_loads_with_bm25s(tmp_path):
    index = Bm25Index.build(["CD19 loss after CAR T", "CD22 after inotuzumab", "MRD"])
    index.save(tmp_path / "bm25")
    loaded = Bm25Index.load(tmp_path / "bm25")
    np.testing.assert_array_equal(loaded.scores("cd22 inotuzumab"), index.scores("cd22 inotuzumab"))
    assert loaded.search("CD22", 3)[0][0] == 1


def test_building_from_row_terms_leaves_them_unchanged():
    tokens = [["cd19", "relaps", "cd19"], ["mrd"], ["relaps", "cd22", "relaps"]]
    rows = RowTerms.from_tokens(tokens)
    ids, offsets = rows.ids.copy(), rows.offsets.copy()
    index = Bm25Index.from_rows(rows)
    np.testing.assert_array_equal(rows.ids, ids)
    np.testing.assert_array_equal(rows.offsets, offsets)
    assert [rows.tokens(i) for i in range(3)] == tokens
    assert index.search("relapse", 3)[0][0] == 2


def test_row_terms_take_extend_and_round_trip(tmp_path):
    rows = RowTerms.from_tokens([["a", "b", "a"], ["c"], ["b", "d"]])
    kept = rows.take([0, 2])
    assert kept.terms == ("a", "b", "d")  # "c" is no longer used by any row
    grown = kept.extend([["x", "a"], []])
    assert [grown.tokens(i) for i in range(4)] == [["a", "b", "a"], ["b", "d"], ["x", "a"], []]
    grown.save(tmp_path)
    again = RowTerms.load(tmp_path)
    assert again.terms == grown.terms and [again.tokens(i) for i in range(4)] == [
        grown.tokens(i) for i in range(4)
    ]
    np.save(tmp_path / "row_offsets.npy", np.array([0, 99]))
    with pytest.raises(ValueError, match="do not fit"):
        RowTerms.load(tmp_path)
