"""The ingest benchmark's incremental path on a small slice (the full run is `bala bench ingest`)."""

from __future__ import annotations

from conftest import shared_path


def test_incremental_cost_adds_a_real_ten_page_pdf():
    shared_path("bench", "bioasq")
    shared_path("bench", "pdf-fidelity")
    from eval.bench_ingest import incremental_cost

    result = incremental_cost("onnx-int8", passages=60)
    assert result["paper"] == "paper.pdf" and result["paper_pages"] == 10
    assert result["index_chunks"] == 60
    assert result["add_one_paper_embedded"] > 20  # only the paper's chunks are embedded
    assert result["reingest_changed"] is False
