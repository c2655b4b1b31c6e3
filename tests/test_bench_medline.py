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
    assert first.text == copy.text and first.source.pmid != copy.source.pmid
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == sum(len(d.fixed_spans) for d in docs)
    assert {r["pmid"] for r in rows} == {d.source.pmid for d in docs}
