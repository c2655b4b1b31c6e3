"""One file per source: a second file with the same source id never replaces the curated or
first-indexed one, is reported as a duplicate, and pruning keeps a source some file provides."""

from __future__ import annotations

import json
import shutil

from index.build import ingest_paths
from index.loaded import open_index

TEXT = "Relapse after CD19 CAR T cells is frequent. Antigen escape drives CD19-negative relapse."
CURATED = {"title": "Curated review", "journal": "Blood", "year": 2025, "kind": "review"}


def _curated(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paper.txt").write_text(TEXT, encoding="utf-8")
    (folder / "paper.json").write_text(json.dumps(CURATED), encoding="utf-8")
    return folder


def _copy(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paper.txt").write_text(TEXT, encoding="utf-8")
    return folder


def _only_source(settings):
    sources = list(open_index(settings).store.sources.values())
    assert len(sources) == 1, sources
    return sources[0]


def test_curated_first_then_copy_keeps_the_curated_record_and_prune_keeps_it(
    tmp_path, settings_for
):
    settings = settings_for()
    corpus, papers = _curated(tmp_path / "corpus"), _copy(tmp_path / "papers")
    assert not ingest_paths([corpus], settings).duplicates
    report = ingest_paths([papers], settings)
    assert [f for f, _ in report.duplicates] == [str(papers / "paper.txt")]
    assert str(corpus / "paper.txt") in report.duplicates[0][1]
    source = _only_source(settings)
    assert (source.journal, source.kind) == ("Blood", "review")
    shutil.rmtree(papers)
    report = ingest_paths([corpus], settings, prune=True)
    assert report.removed == [] and report.unchanged == [str(corpus / "paper.txt")]
    assert _only_source(settings).journal == "Blood"


def test_copy_first_then_curated_takes_over_and_survives_when_the_curated_file_goes(
    tmp_path, settings_for
):
    settings = settings_for()
    papers, corpus = _copy(tmp_path / "a-papers"), _curated(tmp_path / "b-corpus")
    ingest_paths([papers], settings)
    assert _only_source(settings).journal == ""
    report = ingest_paths([papers, corpus], settings)
    assert [f for f, _ in report.duplicates] == [str(papers / "paper.txt")]
    assert _only_source(settings).journal == "Blood"
    again = ingest_paths([papers, corpus], settings)
    assert not again.duplicates and not again.changed  # reported once, when read
    shutil.rmtree(corpus)
    report = ingest_paths([papers], settings, prune=True)
    assert report.removed == []  # the copy still provides it: read again, not dropped
    source = _only_source(settings)
    assert source.path == str(papers / "paper.txt")
    assert source.journal == "Blood"  # the live record's metadata is carried, not lost
    assert len(open_index(settings).store.chunks) == 1


def _jsonl(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"pmid": p, "section": "abstract", "begin": 0, "end": len(t), "text": t})
        for p, t in records
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_overlapping_jsonl_keeps_the_first_indexed_passages(tmp_path, settings_for):
    settings = settings_for()
    demo = _jsonl(tmp_path / "z-demo.jsonl", [("1", "Demo passage one."), ("2", "Demo two.")])
    other = _jsonl(tmp_path / "a-other.jsonl", [("2", "Other text for two."), ("3", "Three.")])
    ingest_paths([demo], settings)
    report = ingest_paths([demo, other], settings)
    assert [f for f, _ in report.duplicates] == [str(other)]
    assert "pmid:2" in report.duplicates[0][1]
    loaded = open_index(settings)
    assert set(loaded.store.sources) == {"pmid:1", "pmid:2", "pmid:3"}
    assert loaded.store.document("pmid:2").text == "Demo two."
    assert loaded.store.files()[str(other)][1] == ["pmid:3"]
