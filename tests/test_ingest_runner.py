"""The seams of an ingest run: a runner (where files are read and text embedded) and a
writer (where the new rows go), so Ray and Milvus plug in without another build path."""

from __future__ import annotations

import json

import numpy as np

from index.build import ingest_paths
from index.ingest_runner import LOCAL, Runner, load_here, load_one


def _lib(root):
    root.mkdir()
    recs = [
        {"pmid": "11", "section": "abstract", "text": "CD19-negative relapse after CAR T."},
        {"pmid": "12", "section": "abstract", "text": "Blinatumomab before transplant."},
    ]
    (root / "p.jsonl").write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    (root / "bad.xml").write_text("<PubmedArticleSet><oops", encoding="utf-8")
    return root


def test_a_writer_receives_sources_chunks_and_row_aligned_vectors(tmp_path, settings_for):
    seen = []

    def writer(rows, context):
        seen.append((rows, context))
        return "written-elsewhere"

    settings = settings_for()
    report = ingest_paths([_lib(tmp_path / "lib")], settings, writer=writer)
    ((rows, context),) = seen
    assert sorted(d.source_id for d in rows.documents) == ["pmid:11", "pmid:12"]
    assert len(rows.chunks) == 2 and rows.vectors.shape == (2, 384) and rows.embedded == 2
    assert np.allclose(np.linalg.norm(rows.vectors, axis=1), 1.0, atol=1e-4)
    assert {c.source_id for c in rows.chunks} == {"pmid:11", "pmid:12"}
    assert context.index_dir == settings.index_dir and context.report is report
    assert report.build_id == "written-elsewhere" and report.embedded_chunks == 2
    assert [f for f, _ in report.failed] == [str(tmp_path / "lib" / "bad.xml")]
    assert not (settings.index_dir / "current").exists()  # the local build was not written


def test_a_runner_reads_the_files_it_is_given(tmp_path, settings_for):
    asked = []

    def load_files(items, ingest_settings):
        asked.extend(path.name for path, _ in items)
        return load_here(items, ingest_settings)

    lib = _lib(tmp_path / "lib")
    runner = Runner("recording", load_files, LOCAL.embedder)
    report = ingest_paths([lib], settings_for(), runner=runner)
    assert sorted(asked) == ["bad.xml", "p.jsonl"] and report.added_chunks == 2
    result, reason = load_one(lib / "bad.xml", "sha", settings_for().ingest)
    assert result is None and "malformed XML" in reason
