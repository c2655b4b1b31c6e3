"""The scale benchmark's synthetic corpora (the 1M runs themselves are `bala bench scale`)."""

from __future__ import annotations

import numpy as np

from eval.bench_scale import _centers, make_chunk, repeat_rows
from index.row_terms import RowTerms


def test_repeated_rows_cycle_through_the_base_rows_and_stop_at_n():
    base = RowTerms.from_tokens([["cd19", "relaps"], ["mrd"], ["cd22", "cd19", "ino"]])
    rows = repeat_rows(base, 7)
    assert rows.n_rows == 7 and rows.terms == base.terms
    expected = [base.tokens(i % 3) for i in range(7)]
    assert [rows.tokens(i) for i in range(7)] == expected


def test_synthetic_vectors_are_unit_length_and_the_same_on_every_call():
    centers = _centers()
    first, again = make_chunk(500, 20, centers), make_chunk(500, 20, centers)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    assert not np.array_equal(first, make_chunk(520, 20, centers))


def test_bm25_and_store_scale_runs_on_a_small_n():
    from conftest import shared_path

    shared_path("bench", "bioasq")
    from eval.bench_scale import run_lexical_scale, run_store_scale

    lexical = run_lexical_scale(30_000, 5)  # more rows than BioASQ has: repeats kick in
    assert lexical["rows"] == 30_000 and lexical["postings"] > 30_000
    assert lexical["query_p95_ms"] >= lexical["query_p50_ms"]  # timings are benchmark output
    store = run_store_scale(300, 5)
    assert store["rows"] == 300 and "fetch_100_rows_p95_ms" in store
