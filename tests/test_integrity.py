"""A damaged build is named, not a traceback: readers fall back to the newest intact build,
status says what is wrong, --verify finds a changed byte, and a held build is not pruned."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from index import layout
from index.build import ingest_paths
from index.loaded import open_index
from index.manifest import IndexDamagedError, read_manifest
from index.status import index_status

PAPERS = {
    "a.txt": "Relapse after CD19 CAR T cells is frequent. Antigen escape drives CD19-negative relapse.",
    "b.txt": "Blinatumomab is a bispecific T-cell engager. It induces remission in relapsed ALL.",
}


@pytest.fixture
def two_builds(tmp_path, settings_for):
    """An index with an older build (a.txt) and the live one (a.txt, b.txt)."""
    settings = settings_for()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.txt").write_text(PAPERS["a.txt"], encoding="utf-8")
    ingest_paths([lib], settings)
    older = layout.current_build(settings.index_dir)
    (lib / "b.txt").write_text(PAPERS["b.txt"], encoding="utf-8")
    ingest_paths([lib], settings)
    return settings, older, layout.current_build(settings.index_dir), lib


def _build_files(build):
    return sorted(
        p.relative_to(build).as_posix()
        for p in build.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )


def test_every_truncated_build_file_is_named_and_the_older_build_serves(two_builds, tmp_path):
    settings, older, live, _ = two_builds
    names = _build_files(live)
    assert {"manifest.json", "store.sqlite", "dense.faiss"} <= set(names) and len(names) > 5
    for name in names:
        path = live / name
        backup = tmp_path / "backup"
        shutil.copyfile(path, backup)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        try:
            with pytest.raises(IndexDamagedError, match=path.name):
                open_index(settings, fallback=False)
            loaded = open_index(settings)
            assert loaded.build_id == older.name and path.name in loaded.warning, name
            loaded.close()
            status = index_status(settings)
            assert not status["integrity"]["ok"] and status["integrity"]["serving"] == older.name
            assert any(path.name in p for p in status["integrity"]["problems"])
        finally:
            shutil.copyfile(backup, path)
    assert open_index(settings).warning == ""


def test_status_and_ask_on_a_damaged_build_say_so_without_a_traceback(two_builds):
    settings, older, live, _ = two_builds
    faiss_file = live / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    base = [sys.executable, "-m", "app.cli"]
    index = ["--index", str(settings.index_dir)]
    status = subprocess.run([*base, "status", *index], capture_output=True, text=True, timeout=120)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert "DAMAGED" in status.stdout and "dense.faiss" in status.stdout
    assert older.name in status.stdout
    ask = subprocess.run(
        [*base, "ask", "What drives CD19-negative relapse?", *index],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ask.returncode == 0 and "Traceback" not in ask.stderr
    assert "damaged" in ask.stderr and older.name in ask.stderr


def test_verify_finds_a_changed_byte_that_sizes_do_not(two_builds):
    settings, _, live, _ = two_builds
    assert index_status(settings, verify=True)["integrity"]["ok"]
    path = live / "dense.faiss"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert index_status(settings)["integrity"]["ok"]  # same size: the cheap check passes
    verified = index_status(settings, verify=True)["integrity"]
    assert not verified["ok"] and "dense.faiss" in verified["problems"][0]


def test_the_manifest_records_every_build_file(two_builds):
    _, _, live, _ = two_builds
    recorded = read_manifest(live / "manifest.json").build_files
    assert sorted(recorded) == [n for n in _build_files(live) if n != "manifest.json"]
    assert all(r["size"] == (live / n).stat().st_size for n, r in recorded.items())


def test_a_build_held_by_a_reader_is_not_pruned(two_builds):
    settings, older, _, lib = two_builds
    held = open_index(settings)
    first_live = held.build_dir
    for i in range(layout.KEEP_BUILDS + 1):
        (lib / f"more{i}.txt").write_text(f"Paper {i} on MRD-negative remission.", encoding="utf-8")
        ingest_paths([lib], settings)
    assert first_live.is_dir() and not older.is_dir()  # held kept; unheld and old pruned
    held.close()
    (lib / "last.txt").write_text("One more paper on lineage switch.", encoding="utf-8")
    ingest_paths([lib], settings)
    assert not first_live.is_dir()
