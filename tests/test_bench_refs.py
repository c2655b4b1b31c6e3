"""`bala bench refs` and `bala refs`: the JSON contracts, the JATS half's scoring, exports."""

from __future__ import annotations

import csv
import io
import json
import shutil

from app.cli import main
from core.types import Citation, Document, Reference, Source
from eval import bench_refs


def _truth():
    from tests.conftest import shared_path

    folder = shared_path("bench", "references")
    return folder, json.loads((folder / "truth.json").read_text(encoding="utf-8"))


def _perfect_jats_doc(t: dict) -> Document:
    """What a correct JATS loader returns, built from the truth (marks kept out of the text)."""
    refs = tuple(Reference(r["n"], r["printed"], key=r["jats_ref_id"]) for r in t["references"])
    parts, cits, cursor = [], [], 0
    for c in t["citations"]:
        sentence = c["context"]
        cits.append(Citation(cursor, cursor + len(sentence), tuple(c["numbers"])))
        parts.append(sentence + " ")
        cursor += len(sentence) + 1
    return Document(Source("x"), "".join(parts), references=refs, citations=tuple(cits))


def test_jats_half_scores_the_real_loader_and_a_broken_one_lower(monkeypatch):
    folder, _ = _truth()
    jats_dir = folder.parents[1] / "fixtures" / "jats"
    result = bench_refs.bench_jats(jats_dir, folder)
    assert result["references_right_rate"] == 1.0  # every <ref> kept, by its JATS id
    assert result["citations"]["recall"] == 1.0 and result["citations"]["precision"] == 1.0
    pone = result["files"]["pone.0046493.pdf"]["citations"]
    assert pone["in_figures_tables"] == 2  # kept by the loader; the truth leaves tables out
    real = bench_refs._load_jats

    def broken(module, path):
        return [
            Document(d.source, d.text, references=d.references[1:], citations=d.citations[::2])
            for d in real(module, path)
        ]

    monkeypatch.setattr(bench_refs, "_load_jats", broken)
    worse = bench_refs.bench_jats(jats_dir, folder)
    assert worse["references_right_rate"] < 1.0 and worse["citations"]["recall"] < 0.6


def test_refs_json_contract_and_missing_exports(tmp_path, capsys):
    folder, _ = _truth()
    pdf = tmp_path / "review.pdf"
    shutil.copy(folder / "pntd.0002065.pdf", pdf)
    index = str(tmp_path / "none")
    assert main(["refs", str(pdf), "--json", "--index", index]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source_id"] == "doi:10.1371/journal.pntd.0002065"
    keys = {"n", "text", "title", "year", "doi", "pmid", "library_source_id", "match_score"}
    assert all(keys <= set(r) for r in data["references"]) and len(data["references"]) == 32
    assert all(r["library_source_id"] is None for r in data["references"])  # no library yet
    c = data["citations"][0]
    assert {"chunk_id", "start", "end", "sentence", "numbers"} <= set(c) and c["numbers"] == [1]
    assert data["summary"] == {"references": 32, "cited": 32, "in_library": 0, "missing": 32}
    assert main(["refs", str(pdf), "--missing-as", "csv", "--index", index]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][0] == "n" and len(rows) == 33
    assert main(["refs", str(pdf), "--missing-as", "ris", "--index", index]) == 0
    assert capsys.readouterr().out.count("ER  - ") == 32
    assert main(["refs", "doi:nothing", "--index", index]) == 1
    assert "not a file, nor a source id" in capsys.readouterr().err
