"""`bala enrich --online` against the loopback replay server (tests/ncbi_replay.py): PMID-only
sources get their MEDLINE records through `bala fetch`'s client and are enriched as by
`enrich --from`; a record that cannot be fetched is named, left alone, and the exit is 3."""

from __future__ import annotations

import json
import os

import pytest

from app.cli import main
from core.types import Source
from index.build import ingest_paths
from index.enrich_online import enrich_online, sources_to_fetch
from index.layout import current_build
from index.loaded import open_index
from ingest import fetch as ncbi
from tests.conftest import shared_path
from tests.ncbi_replay import NEJM, Replay
from tests.test_fetch import _closed_port, settings_at

KNOWN = [NEJM["pmid"], *(str(31000000 + i) for i in range(4))]


@pytest.fixture
def replay():
    server = Replay(
        shared_path("fixtures", "pubmed", "efetch-29768149.xml"),
        shared_path("fixtures", "jats", "pone.0046493.nxml"),
        extra_pmids=KNOWN[1:],
    )
    with server:
        yield server


def _library(tmp_path, pmids):
    lib = tmp_path / "lib"
    lib.mkdir()
    lines = [
        json.dumps({"pmid": p, "section": "abstract", "text": f"Excerpt {p} about CD19 relapse."})
        for p in pmids
    ]
    (lib / "passages.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lib


def _titles(settings) -> dict[str, str]:
    loaded = open_index(settings)
    try:
        return {sid: s.title for sid, s in loaded.store.sources.items()}
    finally:
        loaded.store.close()


def test_sources_to_fetch_by_pmid_else_doi_and_only_when_lacking():
    sources = {
        "pmid:1": Source("pmid:1"),
        "doi:10.1182/b.1": Source("doi:10.1182/b.1", doi="10.1182/B.1"),
        "pmid:2": Source("pmid:2", title="T", journal="J", year=2020),
        "sha256:x": Source("sha256:x", title="No ids"),
    }
    assert sources_to_fetch(sources) == {"10.1182/b.1": ["doi:10.1182/b.1"], "1": ["pmid:1"]}


def test_enrich_online_fills_metadata_in_batches_without_reembedding(tmp_path, replay):
    settings = settings_at(tmp_path, replay.base, fetch_batch=2)
    assert not ingest_paths([_library(tmp_path, KNOWN)], settings).failed
    before = current_build(settings.index_dir)
    report = enrich_online(settings)
    assert sorted(report.enriched) == sorted(f"pmid:{p}" for p in KNOWN)
    assert not report.not_fetched and report.still_missing == []
    sizes = [len(q["id"][0].split(",")) for _, _, q in replay.requests_to("/eutils/efetch.fcgi")]
    assert sizes == [2, 2, 1] and {r[1] for r in replay.log} == {"/eutils/efetch.fcgi"}
    assert all(q["db"] == ["pubmed"] and q["tool"] == ["bala"] for _, _, q in replay.log)
    after = current_build(settings.index_dir)
    assert os.path.samefile(before / "dense.faiss", after / "dense.faiss")
    assert all(t.startswith("Inhaled Combined Budesonide") for t in _titles(settings).values())
    assert ncbi.medline_path(settings.library_dir, NEJM["pmid"]).is_file()
    replay.log.clear()  # nothing lacks metadata now: no request at all
    again = enrich_online(settings)
    assert replay.log == [] and again.build_id == after.name and again.requests == 0


def test_429_and_dropped_connection_are_retried(tmp_path, replay):
    settings = settings_at(tmp_path, replay.base)
    ingest_paths([_library(tmp_path, KNOWN[:2])], settings)
    replay.script["/eutils/efetch.fcgi"] = ["429", "drop"]
    report = enrich_online(settings)
    assert len(replay.requests_to("/eutils/efetch.fcgi")) == 3 and report.requests == 3
    assert len(report.enriched) == 2 and not report.not_fetched


def _env(monkeypatch, base: str, retries: str = "3") -> None:
    for name, value in {
        "EUTILS_URL": f"{base}/eutils",
        "IDCONV_URL": f"{base}/idconv/",
        "PMC_OA_URL": f"{base}/oa",
        "FETCH_RETRIES": retries,
        "FETCH_BACKOFF_S": "0.01",
    }.items():
        monkeypatch.setenv(f"BALA_{name}", value)


def test_partial_failure_names_the_sources_and_exits_3(tmp_path, replay, monkeypatch, capsys):
    _env(monkeypatch, replay.base)
    index = tmp_path / "index"
    monkeypatch.setenv("BALA_FETCH_BATCH", "1")
    settings = settings_at(tmp_path, replay.base)
    ingest_paths([_library(tmp_path, [NEJM["pmid"], "31999999"])], settings)
    code = main(["enrich", "--online", "--index", str(index)])
    out = capsys.readouterr().out
    assert code == 3
    assert "NOT FETCHED pmid:31999999: 31999999: PubMed has no record 31999999" in out
    assert "request(s) over the network: E-utilities efetch" in out
    titles = _titles(settings)
    assert titles["pmid:31999999"] == "" and titles[f"pmid:{NEJM['pmid']}"]


def test_network_down_is_a_clear_error_and_changes_nothing(tmp_path, monkeypatch, capsys):
    _env(monkeypatch, f"http://127.0.0.1:{_closed_port()}", retries="1")
    settings = settings_at(tmp_path, "http://unused")
    ingest_paths([_library(tmp_path, KNOWN[:2])], settings)
    before = current_build(settings.index_dir)
    code = main(["enrich", "--online", "--index", str(settings.index_dir)])
    out = capsys.readouterr().out
    assert code == 1 and "connection refused" in out
    assert f"NOT FETCHED pmid:{NEJM['pmid']}" in out and "NOT FETCHED pmid:31000000" in out
    assert current_build(settings.index_dir) == before
    assert set(_titles(settings).values()) == {""}
