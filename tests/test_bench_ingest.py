"""The ingest benchmark's incremental path on a small slice (the full run is `bala bench ingest`)."""

from __future__ import annotations

from conftest import shared_path


def test_incremental_cost_adds_a_real_ten_page_pdf():
    shared_path("bench", "bioasq")
    shared_path("bench", "pdf-fidelity")
    from eval.bench_ingest import incremental_cost

    result = incremental_cost("onnx-int8", passages=60)
    assert result["paper"] == "paper.pdf" and result["paper_pages"] == 10
    assert result["index_chunks"] == 60 and result["index_passages"] == 60
    assert result["add_one_paper_embedded"] > 20  # only the paper's chunks are embedded
    assert result["reingest_changed"] is False


def test_index_records_reach_the_asked_size_with_distinct_marked_copies():
    from eval.bench_ingest import index_records

    corpus = {
        "a": {"pmid": "1", "text": "CD19 loss after CAR T."},
        "b": {"pmid": "2", "text": "MRD after blinatumomab."},
    }
    records = index_records(corpus, 5)
    assert [r["pmid"] for r in records] == ["1", "2", "1r1", "2r1", "1r2"]
    assert records[0]["text"] == "CD19 loss after CAR T."
    assert records[4]["text"] == "CD19 loss after CAR T. (replicate 2)"
    assert len({r["text"] for r in records}) == 5
