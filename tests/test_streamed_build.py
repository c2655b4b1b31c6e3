"""The local build is written block by block (index/local_build.py): whatever the block size,
the build is the same, and the FAISS storage is filled once from the scratch file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from index import embed as embed_module
from index import layout
from index.build import ingest_paths
from index.dense import append_blocks, build_faiss, keep_rows
from index.ingest_runner import Runner, load_here
from index.loaded import open_index
from index.row_terms import RowTerms


class TextHashEmbedder:
    """Deterministic unit vectors from each text's hash: the same text, the same vector,
    whichever block it is embedded in."""

    backend, dim = "onnx-int8", 384

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(self.dim))
        vectors = np.asarray(rows, dtype=np.float32).reshape(-1, self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _runner(block_chunks: int) -> Runner:
    return Runner("hash", load_here, lambda settings: TextHashEmbedder(), block_chunks)


def _records(path: Path, n: int, changed: int | None = None) -> None:
    rows = []
    for i in range(n):
        text = f"Cohort {i} had CD19-negative relapse after CAR T in {i % 9 + 2} children."
        if i == changed:
            text = "A corrected abstract: blinatumomab bridged to transplant."
        rows.append({"pmid": str(500 + i), "section": "abstract", "text": text})
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")


def _snapshot(settings) -> tuple:
    loaded = open_index(settings)
    rows = [(c.chunk_id, c.source_id, c.text) for c in loaded.store.chunks]
    vectors = loaded.faiss_index.reconstruct_n(0, loaded.faiss_index.ntotal)
    terms = RowTerms.load(layout.current_build(settings.index_dir) / "bm25")
    words = [terms.tokens(r) for r in range(terms.n_rows)]
    return rows, vectors, words, loaded.manifest.counts


def test_the_build_is_the_same_whatever_the_block_size(tmp_path, settings_for):
    lib = tmp_path / "lib"
    lib.mkdir()
    _records(lib / "a.jsonl", 23)
    (lib / "b.txt").write_text("Inotuzumab after CD22-positive relapse.", encoding="utf-8")
    whole, small = settings_for("whole"), settings_for("small")
    ingest_paths([lib], whole, runner=_runner(10_000))
    ingest_paths([lib], small, runner=_runner(2))
    one, blocks = _snapshot(whole), _snapshot(small)
    assert one[0] == blocks[0] and len(one[0]) == 24
    np.testing.assert_array_equal(one[1], blocks[1])
    assert one[2] == blocks[2] and one[3] == blocks[3]
    # added to: one record changed, a file added; the reused rows come first either way
    _records(lib / "a.jsonl", 23, changed=5)
    (lib / "c.txt").write_text("Lineage switch to AML after CD19 CAR T.", encoding="utf-8")
    for settings, runner in ((whole, _runner(10_000)), (small, _runner(3))):
        report = ingest_paths([lib], settings, runner=runner)
        assert report.changed and report.embedded_chunks == 2
    one, blocks = _snapshot(whole), _snapshot(small)
    assert one[0] == blocks[0] and len(one[0]) == 25
    np.testing.assert_array_equal(one[1], blocks[1])
    assert one[2] == blocks[2]
    texts = [text for _, _, text in one[0]]
    expected = TextHashEmbedder().encode(texts)
    np.testing.assert_allclose(one[1], expected, atol=1e-6)  # row i is chunk i's vector
    assert not list(layout.current_build(small.index_dir).glob("*.partial"))


def test_an_embedder_the_ingest_loaded_is_let_go_one_held_before_is_kept(
    tmp_path, settings_for, monkeypatch
):
    lib = tmp_path / "lib"
    lib.mkdir()
    _records(lib / "a.jsonl", 3)
    monkeypatch.setattr(embed_module, "_EMBEDDERS", {("held",): object()})
    settings = settings_for()
    loaded = []

    def load(index_settings):
        loaded.append(index_settings)
        embed_module._EMBEDDERS[("ingest",)] = TextHashEmbedder()
        return embed_module._EMBEDDERS[("ingest",)]

    ingest_paths([lib], settings, runner=Runner("hash", load_here, load))
    assert loaded and set(embed_module._EMBEDDERS) == {("held",)}


def test_appending_blocks_fills_a_flat_index_once():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(40, 384)).astype(np.float32)
    index = build_faiss(vectors[:30], "flat")
    keep_rows(index, [1, 2, 28])
    append_blocks(index, 10, iter([vectors[30:33], vectors[33:40]]))
    assert index.ntotal == 13
    np.testing.assert_array_equal(index.reconstruct_n(0, 13), vectors[[1, 2, 28, *range(30, 40)]])
    empty = build_faiss(np.zeros((0, 384), dtype=np.float32), "flat")
    with pytest.raises(ValueError, match="2 rows given, 3 announced"):
        append_blocks(empty, 3, [vectors[:2]])
    with pytest.raises(ValueError, match="more than the 1 rows"):
        append_blocks(build_faiss(np.zeros((0, 384), dtype=np.float32)), 1, [vectors[:2]])


def test_a_block_never_splits_a_source(tmp_path, settings_for):
    from index.local_build import _blocks
    from ingest.loaders import load_file

    path = tmp_path / "a.jsonl"
    _records(path, 7)
    documents = list(load_file(path, "sha", settings_for().ingest).documents)
    ids = [d.source_id for d in documents]
    blocks = list(_blocks(documents, settings_for(), 3))
    assert documents == []  # taken out as they were handed over
    assert [d.source_id for docs, _ in blocks for d in docs] == ids
    for docs, chunks in blocks:
        assert {c.source_id for c in chunks} == {d.source_id for d in docs}
    assert [len(chunks) for _, chunks in blocks] == [3, 3, 1]
