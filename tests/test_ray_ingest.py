"""`bala ingest --engine ray`: Ray Data reads and embeds, and the build is the local one.

One local Ray session (2 CPUs, no dashboard) serves the whole module; it is started here and
shut down at the end. Skips with the reason when Ray cannot start on this machine.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from index import dense
from index.build import ingest_paths
from index.layout import current_build
from index.manifest import read_manifest
from index.store import Store

BACKEND = {"backend": "onnx-int8"}


@pytest.fixture(scope="module")
def ray_up():
    ray = pytest.importorskip("ray", reason="ray[data] is not installed")
    from index.ray_ingest import RayUnavailableError, ray_session

    session = ray_session(cpus=2)
    try:
        session.__enter__()
    except RayUnavailableError as exc:
        pytest.skip(f"Ray cannot start here: {exc}")
    yield ray
    session.__exit__(None, None, None)
    assert not ray.is_initialized()


def _library(root: Path) -> Path:
    """Two JSONL shards, one MEDLINE shard (.xml.gz) and one broken XML file."""
    root.mkdir(parents=True)
    lines = shared_path("corpus", "pubmed", "hemeonc-passages.jsonl").read_text().splitlines()
    (root / "shard-a.jsonl").write_text("\n".join(lines[:40]), encoding="utf-8")
    (root / "shard-b.jsonl").write_text("\n".join(lines[40:80]), encoding="utf-8")
    medline = shared_path("fixtures", "pubmed", "current-medline-sample.xml.gz")
    shutil.copy(medline, root / "medline-0001.xml.gz")
    (root / "broken.xml").write_text("<PubmedArticleSet><PubmedArticle", encoding="utf-8")
    return root


def _rows(index_dir: Path) -> tuple[list[str], np.ndarray, dict]:
    build = current_build(index_dir)
    store = Store(build / "store.sqlite")
    try:
        ids = [chunk.chunk_id for chunk in store.chunks]
    finally:
        store.close()
    index = dense.load_faiss(build / "dense.faiss")
    return ids, index.reconstruct_n(0, index.ntotal), read_manifest(build / "manifest.json")


def test_ray_build_is_the_single_process_build(ray_up, tmp_path, settings_for):
    from index.ray_ingest import ingest_with_ray

    lib = _library(tmp_path / "lib")
    local = settings_for("local").replace(index=BACKEND)
    on_ray = settings_for("ray").replace(index=BACKEND)
    done_local = ingest_paths([lib], local)
    done_ray = ingest_with_ray([lib], on_ray, actors=2)

    assert done_ray.failed == done_local.failed
    assert [f for f, _ in done_ray.failed] == [str(lib / "broken.xml")]
    assert "malformed XML" in done_ray.failed[0][1]
    assert sorted(done_ray.ok) == sorted(done_local.ok) and len(done_ray.ok) == 3
    assert done_ray.embedded_chunks == done_local.embedded_chunks > 80
    ids_local, vec_local, man_local = _rows(local.index_dir)
    ids_ray, vec_ray, man_ray = _rows(on_ray.index_dir)
    assert ids_ray == ids_local
    cosine = np.sum(vec_local * vec_ray, axis=1)
    assert cosine.min() > 0.9999
    assert man_ray.counts == man_local.counts
    assert man_ray.files == man_local.files and man_ray.model == man_local.model


def test_a_rerun_on_ray_embeds_only_what_is_new(ray_up, tmp_path, settings_for):
    from index.ray_ingest import ingest_with_ray

    lib = _library(tmp_path / "lib")
    settings = settings_for().replace(index=BACKEND)
    first = ingest_with_ray([lib], settings, actors=2)
    assert first.embedded_chunks > 0 and first.failed
    again = ingest_with_ray([lib], settings, actors=2)
    assert again.changed is False and again.embedded_chunks == 0
    record = {"pmid": "990001", "section": "abstract", "text": "Obe-cel after blinatumomab."}
    (lib / "shard-c.jsonl").write_text(json.dumps(record), encoding="utf-8")
    added = ingest_with_ray([lib], settings, actors=1)
    assert added.changed and added.embedded_chunks == 1
    assert added.added_chunks == first.added_chunks + 1


def test_the_actor_pool_returns_row_aligned_vectors(ray_up):
    from core.settings import IndexSettings
    from index.embed import load_embedder
    from index.ray_ingest import RayEmbedder

    lines = shared_path("corpus", "pubmed", "hemeonc-passages.jsonl").read_text().splitlines()
    texts = list(dict.fromkeys(json.loads(line)["text"] for line in lines))[:600]
    texts[7] = texts[3]  # a repeated text gets the same vector
    settings = IndexSettings(**BACKEND)
    vectors = RayEmbedder(settings, actors=2).encode(texts)
    expected = load_embedder(settings).encode(texts)
    assert vectors.shape == (600, 384)
    # int8 activations are quantized per batch, so another batch makeup moves vectors a bit
    assert np.sum(vectors * expected, axis=1).min() > 0.98
    nearest = np.argmax(vectors @ expected.T, axis=1)
    assert (nearest == np.arange(600))[np.arange(600) != 7].all()  # row-aligned
    assert np.array_equal(vectors[7], vectors[3])


def test_cli_ingest_with_ray_reports_the_bad_file_and_exits_3(ray_up, tmp_path, capsys):
    from app.cli import main

    lib = tmp_path / "lib"
    lib.mkdir()
    lines = shared_path("corpus", "pubmed", "hemeonc-passages.jsonl").read_text().splitlines()
    (lib / "ok.jsonl").write_text("\n".join(lines[:5]), encoding="utf-8")
    with gzip.open(lib / "bad.xml.gz", "wb") as handle:
        handle.write(b"not xml at all")
    index = tmp_path / "index"
    code = main(["ingest", str(lib), "--engine", "ray", "--ray-actors", "1", "--index", str(index)])
    out = capsys.readouterr().out
    assert code == 3
    assert "bad.xml.gz" in out
    assert read_manifest(current_build(index) / "manifest.json").counts["files"] == 1


def test_an_unreachable_cluster_is_an_error_naming_its_address(tmp_path, capsys):
    pytest.importorskip("ray", reason="ray[data] is not installed")
    import socket

    from app.cli import main

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "a.txt").write_text("CD19-negative relapse after CAR T.", encoding="utf-8")
    address = f"127.0.0.1:{port}"
    argv = ["ingest", str(tmp_path / "a.txt"), "--engine", "ray", "--ray-address", address]
    code = main([*argv, "--index", str(tmp_path / "index")])
    assert code == 1
    assert f"the Ray cluster at {address} is unreachable" in capsys.readouterr().err
    assert not (tmp_path / "index" / "current").exists()


def test_parsed_files_cross_processes_as_json_and_come_back_equal(tmp_path):
    """What a Ray task returns is JSON text (nothing of ours is unpickled), and it rebuilds the
    very documents a local read gives: page spans, reference lists, citations and fixed
    passages included; a bad file's reason comes back as it was."""
    from core.settings import IngestSettings
    from index.ingest_runner import load_one
    from index.ray_ingest import load_as_json, loaded_from_json

    settings = IngestSettings()
    jsonl = tmp_path / "passages.jsonl"
    jsonl.write_text(
        json.dumps({"pmid": "1", "text": "CD19-negative relapse follows CAR T cells."}) + "\n",
        encoding="utf-8",
    )
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    files = [
        shared_path("corpus", "review", "lamble-2025-blood.pdf"),  # pages
        shared_path("fixtures", "jats", "1471-2180-11-174.nxml"),  # references, citations
        jsonl,  # fixed passages
        bad,
    ]
    for path in files:
        local = load_one(path, "sha", settings)
        text = load_as_json(str(path), "sha", settings.model_dump_json())
        assert isinstance(text, str) and loaded_from_json(text) == local, path.name
    review, jats = (load_one(p, "sha", settings)[0].documents[0] for p in files[:2])
    assert review.page_spans and jats.references and jats.citations  # the hard parts crossed
    assert load_one(bad, "sha", settings)[0] is None
