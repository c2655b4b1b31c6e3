"""`bala enrich`: a library of PMID-only passages gets its citation metadata from a MEDLINE
file built from the shared sample, without re-embedding; labels become filters and status."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from conftest import shared_path
from lxml import etree

from app.cli import main
from index.enrich import enrich_index
from index.layout import current_build
from index.loaded import open_index
from index.retrieve import Filters, allowed_rows

N_LIBRARY = 20


def _sample_citations():
    path = shared_path("fixtures", "pubmed", "medline16n0902.xml.gz")
    root = etree.parse(gzip.open(path)).getroot()
    return [c for c in root.iter("MedlineCitation") if c.find("Article/Abstract") is not None]


def _fixture(tmp_path):
    """A MEDLINE file of 50 sample records, and a JSONL library of 20 of their PMIDs with
    abstract sentences only (no titles), the way the demo library's excerpts are."""
    citations = _sample_citations()[:50]
    medline = tmp_path / "medline-subset.xml.gz"
    body = b"".join(etree.tostring(c) for c in citations)
    medline.write_bytes(gzip.compress(b"<MedlineCitationSet>" + body + b"</MedlineCitationSet>"))
    lib = tmp_path / "lib"
    lib.mkdir()
    lines = []
    for c in citations[:N_LIBRARY]:
        text = " ".join("".join(c.find("Article/Abstract/AbstractText").itertext()).split())
        lines.append(json.dumps({"pmid": c.findtext("PMID"), "section": "abstract", "text": text}))
    (lib / "passages.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return medline, lib


def test_enrich_fills_titles_without_reembedding(tmp_path, settings_for, capsys):
    from index.build import ingest_paths

    medline, lib = _fixture(tmp_path)
    settings = settings_for()
    assert not ingest_paths([lib], settings).failed
    before = current_build(settings.index_dir)
    loaded = open_index(settings)
    assert sum(1 for s in loaded.store.sources.values() if not s.title) == N_LIBRARY
    chunks_before = list(loaded.store.chunks)
    loaded.store.close()

    report = enrich_index(settings, [medline])
    assert report.records_read == 50 and not report.failed
    assert len(report.enriched) == N_LIBRARY and report.still_missing == []
    after = current_build(settings.index_dir)
    assert after != before
    # vectors and BM25 files are the live build's own (hard links), chunks unchanged
    assert os.path.samefile(before / "dense.faiss", after / "dense.faiss")
    loaded = open_index(settings)
    sources = loaded.store.sources.values()
    assert all(s.title and s.journal and s.year and s.authors for s in sources)
    assert all(s.publication_types for s in sources)
    assert list(loaded.store.chunks) == chunks_before
    designs = {s.design for s in sources}
    chosen = next(d for d in designs if d)
    rows = allowed_rows(loaded, Filters(designs=frozenset({chosen})))
    expected = {s.source_id for s in sources if s.design == chosen}
    assert {loaded.store.chunks[int(r)].source_id for r in rows} == expected
    loaded.store.close()

    assert enrich_index(settings, [medline]).build_id == after.name  # nothing left to do
    assert main(["status", "--json", "--index", str(settings.index_dir)]) == 0
    status = json.loads(capsys.readouterr().out)
    row = status["sources"][0]
    assert row["missing_metadata"] == [] or row["missing_metadata"] == ["doi"]
    assert set(row["labels"]) == {"design", "population", "diseases"}

    # a changed library file is re-read from disk; its sources keep the enriched metadata
    extra = {"pmid": "1", "section": "abstract", "text": "A new excerpt about CD19."}
    with open(lib / "passages.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(extra) + "\n")
    report = ingest_paths([lib], settings)
    assert report.changed and report.embedded_chunks == 1
    loaded = open_index(settings)
    untitled = [sid for sid, s in loaded.store.sources.items() if not s.title]
    loaded.store.close()
    assert untitled == ["pmid:1"]


def test_enrich_reports_a_bad_file_and_keeps_going(tmp_path, settings_for, capsys):
    from index.build import ingest_paths

    medline, lib = _fixture(tmp_path)
    settings = settings_for()
    ingest_paths([lib], settings)
    bad = tmp_path / "bad.xml"
    bad.write_text("<MedlineCitationSet><MedlineCitation>", encoding="utf-8")
    code = main(["enrich", "--from", str(bad), str(medline), "--index", str(settings.index_dir)])
    out = capsys.readouterr().out
    assert code == 3 and "FAILED" in out and "bad.xml: malformed XML" in out
    assert "metadata filled for 20 source(s)" in out
    assert main(["enrich", "--index", str(settings.index_dir)]) == 2
    assert "--online" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("filters", "design", "population", "kept"),
    [
        (Filters(designs=frozenset({"cohort"})), "cohort", "", True),
        (Filters(designs=frozenset({"cohort"})), "review", "", False),
        (Filters(populations=frozenset({"pediatric"})), "", "both", True),
        (Filters(populations=frozenset({"pediatric"})), "", "adult", False),
        (Filters(populations=frozenset({"both"})), "", "pediatric", False),
    ],
)
def test_label_filters(filters, design, population, kept):
    from core.types import Source

    source = Source("pmid:1", design=design, population=population)
    assert filters.passes_labels(source) is kept and not filters.is_empty()
