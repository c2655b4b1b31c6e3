"""The MEDLINE benchmark's inputs: n records with new PMIDs, and the same passages as JSONL."""

from __future__ import annotations

import json

from conftest import shared_path

from core.settings import IngestSettings
from eval.bench_medline import make_inputs
from ingest.loaders import load_file


def test_inputs_repeat_the_sample_with_new_ids_and_match_as_jsonl(tmp_path):
    sample = shared_path("fixtures", "pubmed", "medline16n0902.xml.gz")
    medline, jsonl = make_inputs(tmp_path, 700, sample)
    docs = load_file(medline, "sha", IngestSettings()).documents
    assert len(docs) == 700 and len({d.source_id for d in docs}) == 700
    assert len({d.source.pmid for d in docs}) == 700
    first, copy = docs[0], docs[604]
    assert first.source.pmid != copy.source.pmid
    # the copy's title and abstract sentences are the first's behind a marker: no passage recurs
    assert copy.source.title == f"[copy 1] {first.source.title}"
    assert copy.text.replace("[copy 1] ", "") == first.text

    def passages(some):
        return [d.text[s:e] for d in some for s, e, _ in d.fixed_spans]

    assert not set(passages(docs[:96])) & set(passages(docs[604:]))
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == sum(len(d.fixed_spans) for d in docs)
    assert {r["pmid"] for r in rows} == {d.source.pmid for d in docs}


def test_bench_reports_wall_and_cpu_rates_and_memory_for_both_formats():
    """The bench's own output on a small file (figures are the bench's business, not the
    test's: only that both formats give the same sources and every figure is reported; the
    JSONL loader drops a record's repeated passage, so it may count a few passages less)."""
    from eval.bench_medline import run_medline_bench

    result = run_medline_bench(records=60)
    med, js = result["medline"], result["jsonl"]
    assert med["passages"] >= js["passages"] > 60 and med["sources"] == js["sources"] == 60
    for stats in (med, js):
        assert {"passages_per_s", "passages_per_cpu_s", "cpu_seconds"} <= set(stats)
        assert "peak_rss_growth_mb" in stats and stats["rss_before_mb"] > 0
    assert {"speed_ratio_medline_to_jsonl", "speed_ratio_cpu_medline_to_jsonl"} <= set(result)
    assert result["peak_rss_growth_ok"] is True


def test_full_bench_times_the_whole_ingest_and_its_memory():
    """`--full` ingests both files into fresh indexes: same sources, rates and the peak RSS
    growth of each whole ingest (embedding model included) are reported."""
    from eval.bench_medline import run_medline_bench

    result = run_medline_bench(records=20, full=True)
    for name in ("medline", "jsonl"):
        whole = result[name]["whole_ingest"]
        assert whole["passages"] >= 20 and whole["peak_rss_growth_mb"] > 0
        assert {"passages_per_s", "passages_per_cpu_s"} <= set(whole)
    assert {"whole_ingest_ratio_medline_to_jsonl"} <= set(result)
