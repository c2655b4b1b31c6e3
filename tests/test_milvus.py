"""The Milvus engine's build lifecycle and failures, on a milvus-lite server on loopback:
the manifest checked on load, publish only after counting, an interrupted publish or ingest
leaving the previous build serving (and resumable), an unreachable URI named with exit 1,
and `bala ingest` + `bala ask` with BALA_ENGINE=milvus giving the local engine's answer."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app.cli import main
from index import milvus_build
from index.manifest import IndexDamagedError, IndexMismatchError, ModelInfo
from index.milvus_build import collection_name, live_build_id, publish_build, write_milvus_build
from index.milvus_index import open_collection, open_milvus
from index.milvus_server import free_port
from tests.engine_corpus import MODEL, SOURCES, corpus, manifest

SOURCE_MAP = {s.source_id: s for s in SOURCES}


def _write(client, build_id: str, model: ModelInfo = MODEL, publish: bool = True):
    _, chunks, vectors = corpus()
    m = manifest(build_id, model)
    write_milvus_build(chunks, vectors, SOURCE_MAP, m, client, publish=publish)
    return m


def test_a_build_made_with_another_model_is_refused_on_load(milvus_client, milvus_uri, tmp_path):
    _write(milvus_client, "20260101T000000Z-other", ModelInfo("other-model", "onnx-int8", 16))
    settings = _milvus_settings(tmp_path, milvus_uri)
    with pytest.raises(IndexMismatchError, match="model 'other-model'"):
        open_milvus(settings)
    with pytest.raises(IndexMismatchError, match="rebuild it with `bala ingest`"):
        open_collection(milvus_client, milvus_uri, "20260101T000000Z-other", settings)


def test_a_collection_short_of_its_manifest_is_never_published(milvus_client):
    first = _write(milvus_client, "20260101T000000Z-first")
    second = _write(milvus_client, "20260102T000000Z-second", publish=False)
    counted_wrong = replace(second, counts={**second.counts, "chunks": 9})
    with pytest.raises(IndexDamagedError, match="holds 8 rows, manifest says 9"):
        publish_build(milvus_client, counted_wrong)
    assert live_build_id(milvus_client) == first.build_id


def test_an_interrupted_publish_keeps_the_previous_build_serving_and_resumes(
    milvus_client, milvus_uri, monkeypatch
):
    first = _write(milvus_client, "20260101T000000Z-first")

    def killed(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(milvus_build, "publish_build", killed)
    with pytest.raises(KeyboardInterrupt):
        _write(milvus_client, "20260102T000000Z-second")
    assert live_build_id(milvus_client) == first.build_id
    serving = open_collection(milvus_client, milvus_uri, first.build_id, None)
    assert serving.count() == 8 and serving.chunks([0])[0].source_id == "pmid:1"
    monkeypatch.undo()
    second = _write(milvus_client, "20260102T000000Z-second")  # resumes: rows already counted
    assert live_build_id(milvus_client) == second.build_id
    names = set(milvus_client.list_collections())
    assert {collection_name(first.build_id), collection_name(second.build_id)} <= names


def test_publishing_keeps_the_previous_build_and_drops_older_ones(milvus_client):
    ids = [f"2026010{d}T000000Z-b{d}" for d in (1, 2, 3)]
    for build_id in ids:
        _write(milvus_client, build_id)
    names = {n for n in milvus_client.list_collections() if n != milvus_build.META}
    assert names == {collection_name(ids[1]), collection_name(ids[2])}
    assert milvus_build.get_meta(milvus_client, f"manifest:{ids[0]}") is None
    assert milvus_build.get_meta(milvus_client, f"terms:{ids[1]}") is not None


def _milvus_settings(tmp_path, uri: str):
    from core.settings import load_settings

    return load_settings(tmp_path / "index").replace(index={"engine": "milvus", "milvus_uri": uri})


@pytest.mark.parametrize("command", [["ask", "What works after blinatumomab?"], ["ingest", "."]])
def test_an_unreachable_milvus_is_an_error_naming_its_uri(command, tmp_path, monkeypatch, capsys):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("BALA_ENGINE", "milvus")
    monkeypatch.setenv("BALA_MILVUS_URI", uri)
    monkeypatch.setenv("BALA_MILVUS_TIMEOUT_S", "1")
    assert main([*command, "--index", str(tmp_path / "index")]) == 1
    err = capsys.readouterr().err
    assert f"Milvus is unreachable at {uri}" in err and "Traceback" not in err


TEXTS = {
    "blina.txt": "Blinatumomab induced complete remission in most children with relapsed B-ALL. "
    "Cytokine release syndrome was mild and reversible in this cohort. "
    "Minimal residual disease negativity predicted durable remission after blinatumomab.",
    "cart.txt": "CD19-directed CAR T cells achieved remission after blinatumomab failure. "
    "CD19-negative relapse occurred in a third of patients within a year. "
    "Consolidative transplant after CAR T was associated with longer event-free survival.",
    "ino.txt": "Inotuzumab ozogamicin targets CD22 and is an option after CD19-negative relapse. "
    "Hepatic veno-occlusive disease is its main toxicity, especially before transplant.",
}


def test_ingest_and_ask_with_the_milvus_engine(milvus_client, milvus_uri, tmp_path, monkeypatch):
    from app.engine.answer import Engine

    folder = tmp_path / "library"
    folder.mkdir()
    for name in ("blina.txt", "cart.txt"):
        (folder / name).write_text(TEXTS[name], encoding="utf-8")
    index = str(tmp_path / "index")
    monkeypatch.setenv("BALA_ENGINE", "milvus")
    monkeypatch.setenv("BALA_MILVUS_URI", milvus_uri)
    assert main(["ingest", str(folder), "--index", index]) == 0
    settings = _milvus_settings(tmp_path, milvus_uri)
    first = live_build_id(milvus_client)
    assert first == (tmp_path / "index" / "current").resolve().name
    question = "What happens after CAR T for relapse after blinatumomab?"
    on_milvus = Engine(settings)
    on_local = Engine(settings.replace(index={"engine": "local"}), embedder=on_milvus.embedder)
    assert on_milvus.retriever.engine == "milvus" and on_local.retriever.engine == "local"
    same = {"timings_ms": None}
    answer = {**on_milvus.ask(question).to_json(), **same}
    assert answer == {**on_local.ask(question).to_json(), **same}
    assert answer["quotes"] and answer["build_id"] == first

    (folder / "ino.txt").write_text(TEXTS["ino.txt"], encoding="utf-8")
    monkeypatch.setattr(milvus_build, "publish_build", _interrupt)
    assert main(["ingest", str(folder), "--index", index]) == 130
    assert live_build_id(milvus_client) == first  # Milvus still serves the previous build
    assert Engine(settings, embedder=on_milvus.embedder).ask(question).build_id == first
    monkeypatch.undo()
    monkeypatch.setenv("BALA_ENGINE", "milvus")
    monkeypatch.setenv("BALA_MILVUS_URI", milvus_uri)
    assert main(["ingest", str(folder), "--index", index]) == 0  # nothing new: resumes Milvus
    assert live_build_id(milvus_client) == (tmp_path / "index" / "current").resolve().name != first
    assert main(["status", "--json", "--index", index]) == 0


def _interrupt(*_args):
    raise KeyboardInterrupt


def test_status_names_the_milvus_engine(milvus_client, milvus_uri, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "blina.txt").write_text(TEXTS["blina.txt"], encoding="utf-8")
    index = str(tmp_path / "index")
    monkeypatch.setenv("BALA_ENGINE", "milvus")
    monkeypatch.setenv("BALA_MILVUS_URI", milvus_uri)
    assert main(["ingest", str(folder), "--index", index]) == 0
    capsys.readouterr()
    assert main(["status", "--json", "--index", index]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["engine"] == "milvus"
    assert status["milvus"]["ok"] and status["milvus"]["rows"] == status["totals"]["chunks"]
    milvus_client.drop_collection(collection_name(status["milvus"]["build_id"]))
    assert main(["status", "--index", index]) == 1  # the build Milvus points to is gone
    assert f"milvus at {milvus_uri}: unavailable" in capsys.readouterr().out


def test_the_app_shows_a_milvus_failure_as_the_questions_error(settings_for):
    """The loaded engine stays (nothing is reset); the question's entry carries the message
    that names the URI, shown in place of an answer."""
    from app import streamlit_app
    from index.filters import Filters
    from index.milvus_build import MilvusUnavailableError

    message = "Milvus at http://127.0.0.1:1 failed (MilvusException: connection refused)"

    class MilvusDown:
        def ask(self, question, filters=None):
            raise MilvusUnavailableError(message)

    entry = streamlit_app.ask(MilvusDown(), settings_for(), "After blinatumomab?", Filters(), None)
    assert entry["error"] == message and entry["answer"] is None
