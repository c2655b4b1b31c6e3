"""Index builds: incremental, atomic, locked, and refusing what does not fit."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.types import IngestReport
from index import build, layout, local_build
from index import manifest as manifest_module
from index.build import ingest_paths
from index.dense import add_vectors, build_faiss, keep_rows, search_faiss
from index.embed import EmbeddingCache, embed_cached, model_key
from index.lexical import Bm25Index, tokenize
from index.loaded import open_index
from index.manifest import IndexMismatchError, read_manifest, write_manifest
from index.row_terms import RowTerms
from index.status import index_status
from index.store import read_rows_of

PAPER_A = "Relapse after CD19 CAR T cells is frequent. Antigen escape drives CD19-negative relapse."
PAPER_B = "Blinatumomab is a bispecific T-cell engager. It induces remission in relapsed ALL."
PAPER_C = "Lineage switch to acute myeloid leukemia can follow CD19-directed therapy."


def _library(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.txt").write_text(PAPER_A, encoding="utf-8")
    (root / "b.md").write_text(PAPER_B, encoding="utf-8")
    recs = [
        {"pmid": "11", "section": "title", "begin": 0, "end": 5, "text": "Title eleven"},
        {"pmid": "11", "section": "abstract", "begin": 0, "end": 5, "text": PAPER_C},
    ]
    (root / "p.jsonl").write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    return root


KILL_AT = (
    "import os, sys; import index.local_build as b; from app.cli import main; "
    "b.stage_reached = lambda s: os._exit(137) if s == sys.argv[1] else None; "
    "sys.exit(main(sys.argv[2:]))"
)


def _ingest_killed_at(stage, paths, index_dir) -> subprocess.CompletedProcess:
    """`bala ingest` in a child whose build is killed (exit 137) at the named stage."""
    cmd = [sys.executable, "-c", KILL_AT, stage, "ingest", *map(str, paths)]
    cmd += ["--index", str(index_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_build_then_reingest_is_a_noop(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    first = ingest_paths([lib], settings)
    assert first.changed and not first.failed and first.embedded_chunks == 4
    build = layout.current_build(settings.index_dir)
    again = ingest_paths([lib], settings)
    assert not again.changed and len(again.unchanged) == 3 and again.embedded_chunks == 0
    assert layout.current_build(settings.index_dir) == build
    status = index_status(settings)
    assert {s["source_id"] for s in status["sources"]} >= {"pmid:11"}
    assert status["totals"]["sources"] == 3


def test_changed_file_replaces_its_chunks_and_new_paper_embeds_only_itself(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    (lib / "a.txt").write_text(PAPER_A + " A new sentence was added.", encoding="utf-8")
    (lib / "c.txt").write_text("A third paper about MRD after transplant.", encoding="utf-8")
    report = ingest_paths([lib], settings)
    assert sorted(Path(p).name for p in report.ok) == ["a.txt", "c.txt"]
    assert report.embedded_chunks == 2
    texts = [c.text for c in open_index(settings).store.chunks]
    assert any("A new sentence was added." in t for t in texts)
    assert not any(t == PAPER_A for t in texts)


def _row_tokens(settings) -> dict[str, list[str]]:
    """BM25 tokens of every chunk of the live build, by chunk id, from its saved row terms."""
    terms = RowTerms.load(layout.current_build(settings.index_dir) / "bm25")
    chunks = open_index(settings).store.chunks
    assert terms.n_rows == len(chunks)
    return {c.chunk_id: terms.tokens(i) for i, c in enumerate(chunks)}


def test_rebuild_reuses_stored_tokens_and_scores_like_a_fresh_bm25(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    (lib / "c.txt").write_text("A third paper about relapse and MRD.", encoding="utf-8")
    ingest_paths([lib], settings)
    loaded = open_index(settings)
    texts = [c.text for c in loaded.store.chunks]
    stored = _row_tokens(settings)
    assert [stored[c.chunk_id] for c in loaded.store.chunks] == [tokenize(t) for t in texts]
    fresh = Bm25Index.build(texts, settings.index.bm25_k1, settings.index.bm25_b)
    for query in ("relapse after CAR T", "MRD", "blinatumomab remission"):
        assert np.allclose(loaded.bm25.scores(query), fresh.scores(query))


def test_incremental_build_holds_what_a_full_rebuild_holds(tmp_path, settings_for):
    lib = _library(tmp_path / "lib")
    step = settings_for("step")
    ingest_paths([lib], step)
    (lib / "c.txt").write_text("A third paper about relapse and MRD.", encoding="utf-8")
    (lib / "b.md").write_text(PAPER_B + " Changed.", encoding="utf-8")
    ingest_paths([lib], step)
    full = settings_for("full")
    ingest_paths([lib], full)

    def contents(settings):
        loaded = open_index(settings)
        store = loaded.store
        vectors = loaded.faiss_index.reconstruct_n(0, loaded.faiss_index.ntotal)
        tokens = _row_tokens(settings)
        rows = {
            c.chunk_id: (c.source_id, c.start, c.end, c.text, tokens[c.chunk_id])
            for c in store.chunks
        }
        vecs = {c.chunk_id: vectors[i] for i, c in enumerate(store.chunks)}
        docs = {d.source_id: (d.text, d.source) for d in store.documents()}
        return rows, vecs, docs, store.files()

    step_rows, step_vecs, step_docs, step_files = contents(step)
    full_rows, full_vecs, full_docs, full_files = contents(full)
    assert step_rows == full_rows and step_docs == full_docs and step_files == full_files
    # int8 activations are quantized per batch, so vectors embedded in other batches agree
    # to within quantization noise (cosine 0.98 for a 1-word text with onnxruntime 1.32), not bit
    # for bit
    assert set(step_vecs) == set(full_vecs)
    assert all(float(step_vecs[c] @ full_vecs[c]) > 0.98 for c in full_vecs)
    assert not any(PAPER_B == text for _, _, _, text, _ in step_rows.values())
    query = "relapse after CAR T"
    step_bm25 = {
        c.chunk_id: s
        for c, s in zip(open_index(step).store.chunks, open_index(step).bm25.scores(query))
    }
    full_bm25 = {
        c.chunk_id: s
        for c, s in zip(open_index(full).store.chunks, open_index(full).bm25.scores(query))
    }
    assert step_bm25 == pytest.approx(full_bm25)


def _vectors_by_chunk(settings) -> dict[str, np.ndarray]:
    loaded = open_index(settings)
    vectors = loaded.faiss_index.reconstruct_n(0, loaded.faiss_index.ntotal)
    return {c.chunk_id: vectors[i] for i, c in enumerate(loaded.store.chunks)}


def test_adding_a_paper_keeps_the_live_vectors_of_unchanged_chunks(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    before = _vectors_by_chunk(settings)
    (tmp_path / "lib" / "c.txt").write_text(PAPER_C + " A new paper.", encoding="utf-8")
    report = ingest_paths([lib], settings)
    assert report.embedded_chunks == 1
    after = _vectors_by_chunk(settings)
    assert len(after) == len(before) + 1
    assert all(np.array_equal(after[c], v) for c, v in before.items())  # read back, bit for bit


def _passages(path: Path, n: int, offset: int = 0) -> None:
    topics = ["relapse", "CD19 loss", "MRD", "blinatumomab", "CAR T expansion", "CRS", "ICANS"]
    records = [
        {
            "pmid": str(1000 + i),
            "section": "abstract",
            "text": f"Cohort {i} studied "
            f"{topics[i % len(topics)]} after therapy in {i % 50 + 3} children.",
        }
        for i in range(offset, offset + n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")


def test_an_approximate_live_index_reuses_cached_vectors_not_lossy_codes(tmp_path, settings_for):

    def approximate(name):
        base = settings_for(name)
        return base.replace(index={"approx_from": 150})

    lib = tmp_path / "lib"
    lib.mkdir()
    _passages(lib / "many.jsonl", 200)
    step = approximate("step")
    ingest_paths([lib], step)
    assert read_manifest(layout.current_build(step.index_dir) / "manifest.json").faiss_type == (
        "ivf-sq8"
    )
    _passages(lib / "more.jsonl", 5, offset=200)
    assert ingest_paths([lib], step).embedded_chunks == 5
    full = approximate("full")
    ingest_paths([lib], full)
    step_vecs, full_vecs = _vectors_by_chunk(step), _vectors_by_chunk(full)
    assert step_vecs.keys() == full_vecs.keys() and len(step_vecs) == 205
    # 8-bit codes trained on different samples, int8 activations from different batches
    assert min(float(step_vecs[c] @ full_vecs[c]) for c in full_vecs) > 0.98
    # the reused rows' vectors came from the embedding cache, not from the lossy codes
    live, loaded = build._previous(step.index_dir, IngestReport()), open_index(step)
    rows = list(range(0, 205, 7))
    context = build.WriteContext(step.index_dir, live, build.Contents(), step, IngestReport())
    reused = local_build._reused_vectors(context, rows)
    cache = EmbeddingCache(layout.cache_path(step.index_dir))
    try:
        texts = [loaded.store.chunks[r].text for r in rows]
        key = model_key(step.index.model_id, step.index.backend)
        cached, embedded = embed_cached(texts, key, cache, lambda: pytest.fail("not cached"))
    finally:
        cache.close()
    assert embedded == 0 and np.array_equal(reused, cached)
    assert not np.array_equal(reused, loaded.faiss_index.reconstruct_n(0, 205)[rows])


def test_growing_past_the_threshold_turns_a_flat_index_approximate(tmp_path, settings_for):

    base = settings_for()
    settings = base.replace(index={"approx_from": 150})
    lib = tmp_path / "lib"
    lib.mkdir()
    _passages(lib / "many.jsonl", 120)
    ingest_paths([lib], settings)
    flat = _vectors_by_chunk(settings)
    _passages(lib / "more.jsonl", 40, offset=120)
    assert ingest_paths([lib], settings).embedded_chunks == 40
    manifest = read_manifest(layout.current_build(settings.index_dir) / "manifest.json")
    assert manifest.faiss_type == "ivf-sq8" and manifest.chunk_count == 160
    approx = _vectors_by_chunk(settings)
    assert flat.keys() <= approx.keys() and len(approx) == 160
    assert min(float(flat[c] @ approx[c]) for c in flat) > 0.99  # 8-bit codes of the same rows


def test_damaged_row_terms_stop_an_add_and_keep_the_live_build(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    live = layout.current_build(settings.index_dir)
    np.save(live / "bm25" / "row_offsets.npy", np.array([0, 1], dtype=np.int64))
    (lib / "c.txt").write_text("A third paper about relapse and MRD.", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="row_offsets|rows of terms|do not fit"):
        ingest_paths([lib], settings)
    assert layout.current_build(settings.index_dir) == live
    with pytest.raises(IndexMismatchError, match="row_offsets.npy is 144 bytes"):
        open_index(settings)  # the size recorded in the manifest gives the damage away


def test_stale_tokens_are_not_reused_after_a_tokenizer_change(tmp_path, settings_for, monkeypatch):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    store = open_index(settings).store
    ids = [c.chunk_id for c in store.chunks]
    assert read_rows_of(store.path, ids + ["no-such-chunk"]) == {c: i for i, c in enumerate(ids)}
    monkeypatch.setattr(local_build, "TOKENIZER_VERSION", 99)
    monkeypatch.setattr(manifest_module, "TOKENIZER_VERSION", 99)
    monkeypatch.setattr(local_build, "tokenize", lambda text: ["changed"])
    report = ingest_paths([lib], settings)
    assert report.changed  # the manifest's tokenizer differs: a full rebuild
    rebuilt = _row_tokens(settings)
    assert set(map(tuple, rebuilt.values())) == {("changed",)}


def test_ingesting_one_file_keeps_the_rest_and_prune_drops_gone_files(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    extra = tmp_path / "extra.txt"
    extra.write_text("An extra paper on CRS grading.", encoding="utf-8")
    ingest_paths([extra], settings)
    assert index_status(settings)["totals"]["sources"] == 4
    (lib / "b.md").unlink()
    kept = ingest_paths([extra], settings)
    assert not kept.changed and index_status(settings)["totals"]["sources"] == 4
    pruned = ingest_paths([extra], settings, prune=True)
    assert len(pruned.removed) == 1 and index_status(settings)["totals"]["sources"] == 3


def test_bad_file_is_reported_and_does_not_lose_indexed_sources(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    (lib / "a.txt").write_bytes(b"\xff\xfe\x00bad")  # the indexed paper is now unreadable
    (lib / "empty.md").write_bytes(b"")
    (lib / "notes.docx").write_bytes(b"PK")
    report = ingest_paths([lib], settings)
    failed = {Path(p).name: r for p, r in report.failed}
    assert set(failed) == {"a.txt", "empty.md"} and "empty file" in failed["empty.md"]
    assert [Path(p).name for p, _ in report.skipped] == ["notes.docx"]
    texts = [c.text for c in open_index(settings).store.chunks]
    assert PAPER_A in texts  # the previous version of a.txt is kept


def test_faiss_search_equals_numpy_brute_force():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[7] + 0.1 * rng.normal(size=384).astype(np.float32)
    query /= np.linalg.norm(query)
    index = build_faiss(vectors, "flat")
    got = search_faiss(index, query, 10)
    brute = vectors @ query
    expected = np.argsort(-brute)[:10]
    assert [r for r, _ in got] == expected.tolist()
    assert np.allclose([s for _, s in got], brute[expected], atol=1e-5)
    allowed = np.arange(0, 500, 2)
    filtered = search_faiss(index, query, 5, allowed)
    expected_even = allowed[np.argsort(-brute[allowed])[:5]]
    assert [r for r, _ in filtered] == expected_even.tolist()


def test_keeping_rows_of_a_flat_index_keeps_their_order_and_appends_after():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 384)).astype(np.float32)
    index = build_faiss(vectors[:30], "flat")
    kept = [0, 3, 4, 17, 29]
    keep_rows(index, kept)
    add_vectors(index, vectors[30:])
    assert index.ntotal == 15
    np.testing.assert_array_equal(index.reconstruct_n(0, 15), vectors[kept + list(range(30, 40))])


def test_demo_index_dense_search_matches_brute_force(demo_index):
    loaded = open_index(demo_index)
    n = loaded.faiss_index.ntotal
    vectors = loaded.faiss_index.reconstruct_n(0, n)
    for row in (0, n // 2, n - 1):
        got = [r for r, _ in search_faiss(loaded.faiss_index, vectors[row], 10)]
        expected = np.argsort(-(vectors @ vectors[row]), kind="stable")[:10].tolist()
        assert got[0] == row or vectors[got[0]] @ vectors[row] >= 0.9999
        assert set(got) == set(expected) or np.allclose(
            np.sort(vectors[got] @ vectors[row]), np.sort(vectors[expected] @ vectors[row])
        )


def test_model_or_dimension_mismatch_is_refused(tmp_path, settings_for):
    settings = settings_for()
    ingest_paths([_library(tmp_path / "lib")], settings)
    manifest_path = layout.current_build(settings.index_dir) / "manifest.json"
    manifest = read_manifest(manifest_path)
    other = replace(manifest.model, id="other/model")
    write_manifest(manifest_path, replace(manifest, model=other))
    with pytest.raises(IndexMismatchError, match="other/model"):
        open_index(settings)
    write_manifest(manifest_path, replace(manifest, counts={**manifest.counts, "chunks": 99}))
    with pytest.raises(IndexMismatchError, match="inconsistent"):
        open_index(settings)


def test_second_writer_is_refused_while_the_lock_is_held(tmp_path, settings_for):
    settings = settings_for()
    with layout.writer_lock(settings.index_dir):
        with pytest.raises(layout.IndexLockedError, match="another ingest is running"):
            ingest_paths([_library(tmp_path / "lib")], settings)


@pytest.mark.parametrize("stage", ["after_embed", "after_store", "before_switch"])
def test_crash_mid_build_leaves_the_previous_build(tmp_path, settings_for, stage):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    before = layout.current_build(settings.index_dir)
    (lib / "new.txt").write_text("A new paper on ICANS after CAR T.", encoding="utf-8")
    result = _ingest_killed_at(stage, [lib], settings.index_dir)
    assert result.returncode == 137, result.stderr[-2000:]
    assert layout.current_build(settings.index_dir) == before
    assert open_index(settings).manifest.counts["sources"] == 3
    after = ingest_paths([lib], settings)  # the next run recovers and cleans up
    assert after.changed and open_index(settings).manifest.counts["sources"] == 4
    leftovers = [d.name for d in layout.builds_dir(settings.index_dir).iterdir()]
    assert not any(name.endswith(".partial") for name in leftovers)


def test_sigkill_at_a_random_moment_leaves_a_loadable_index(tmp_path, settings_for):
    settings = settings_for()
    lib = _library(tmp_path / "lib")
    ingest_paths([lib], settings)
    for i in range(4):
        (lib / f"more{i}.txt").write_text(f"Paper {i} on MRD-negative remission.", encoding="utf-8")
    cmd = [sys.executable, "-m", "app.cli", "ingest", str(lib), "--index", str(settings.index_dir)]
    for delay in (0.5, 2.0, 4.0):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        loaded = open_index(settings)  # whichever build is live must load and be consistent
        assert loaded.faiss_index.ntotal == len(loaded.store.chunks)
