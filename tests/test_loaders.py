"""Loaders: JSONL passages, text, sidecar metadata, source ids and per-file errors."""

from __future__ import annotations

import json

import pytest

from core.ids import make_source_id, normalize_doi
from core.settings import IngestSettings
from ingest.errors import IngestError
from ingest.loaders import load_file

CFG = IngestSettings()


def _jsonl(path, records, extra_lines=()):
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_groups_by_pmid_and_keeps_records_verbatim(tmp_path):
    recs = [
        {"pmid": "1", "section": "abstract", "begin": 50, "end": 70, "text": "Second part."},
        {"pmid": "1", "section": "title", "begin": 0, "end": 9, "text": "The title"},
        {"pmid": "2", "section": "abstract", "begin": 0, "end": 5, "text": "Other."},
    ]
    result = load_file(_jsonl(tmp_path / "p.jsonl", recs), "sha", CFG)
    docs = {d.source_id: d for d in result.documents}
    assert set(docs) == {"pmid:1", "pmid:2"}
    doc = docs["pmid:1"]
    assert doc.source.title == "The title"
    assert [doc.text[s:e] for s, e, _ in doc.fixed_spans] == ["The title", "Second part."]
    assert doc.source.url == "https://pubmed.ncbi.nlm.nih.gov/1/"


def test_jsonl_malformed_lines_are_reported_with_line_numbers(tmp_path):
    good = {"pmid": "7", "section": "abstract", "begin": 0, "end": 4, "text": "Good."}
    path = _jsonl(tmp_path / "p.jsonl", [good], ["{not json", '{"pmid": "8"}', "[1, 2]"])
    result = load_file(path, "sha", CFG)
    assert [d.source_id for d in result.documents] == ["pmid:7"]
    assert len(result.warnings) == 3
    assert "line 2" in result.warnings[0]
    assert "line 3" in result.warnings[1] and "text" in result.warnings[1]
    assert "line 4" in result.warnings[2]


def test_jsonl_with_no_good_line_fails(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no valid passage records"):
        load_file(path, "sha", CFG)


def test_text_with_sidecar_gets_doi_source_id(tmp_path):
    doc_path = tmp_path / "paper.txt"
    doc_path.write_text("Body text of the paper.", encoding="utf-8")
    meta = {
        "title": "A paper",
        "doi": "https://doi.org/10.1000/ABC.1",
        "year": 2024,
        "authors": ["Ann B. Smith"],
        "journal": "Blood",
        "series": "Review",
    }
    (tmp_path / "paper.json").write_text(json.dumps(meta), encoding="utf-8")
    (doc,) = load_file(doc_path, "sha", CFG).documents
    assert doc.source_id == "doi:10.1000/abc.1"
    assert doc.source.kind == "review" and doc.source.year == 2024
    assert doc.source.authors == ("Ann B. Smith",)


def test_text_without_metadata_gets_stable_content_hash_id(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Heading\n\nSome notes.", encoding="utf-8")
    first = load_file(path, "sha", CFG).documents[0]
    second = load_file(path, "sha", CFG).documents[0]
    assert first.source_id.startswith("sha256:") and first.source_id == second.source_id
    assert first.source.title == "Heading"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n ", "no text"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("data.xyz", b"hello", "unsupported file type"),
    ],
)
def test_bad_text_inputs_name_their_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=reason) as info:
        load_file(path, "sha", CFG)
    assert info.value.path == str(path)


def test_source_id_rule():
    assert (
        make_source_id(doi="10.1182/Blood.2024024517", pmid="5") == "doi:10.1182/blood.2024024517"
    )
    assert make_source_id(pmid="123") == "pmid:123"
    assert make_source_id(text="x").startswith("sha256:")
    assert normalize_doi("doi: 10.1/X.") == "10.1/x"
