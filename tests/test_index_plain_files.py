"""The index is plain files (DEVELOPERS.md): every file a build writes is JSON, SQLite, FAISS or
a numeric .npy array, and none is a pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SQLITE = b"SQLite format 3\x00"
# The bytes pickle.dumps({"a": 1}, protocol=4) writes, spelt out so that no test imports pickle
PICKLED_DICT = b"\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."


def not_plain(path: Path) -> str:
    """Why a file of the index is not a plain file ("" when it is one)."""
    head = path.read_bytes()[:16]
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a pickle"
    suffix = path.suffix
    if suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))
        return ""
    if suffix == ".npy":
        try:
            np.load(path, allow_pickle=False)
        except ValueError:  # "Object arrays cannot be loaded when allow_pickle=False"
            return "an object array (pickled items)"
        return ""
    if suffix == ".sqlite":
        return "" if head == SQLITE else "not SQLite"
    if suffix == ".faiss":
        import faiss

        faiss.read_index(str(path))
        return ""
    if path.name == ".in-use" and not head.startswith(b"\x80"):
        return ""  # a lock marker
    return f"an unexpected kind of file ({suffix or path.name})"


def test_a_built_index_is_plain_files(demo_index, tmp_path):
    files = [p for p in Path(demo_index.index_dir).rglob("*") if p.is_file()]
    assert any(p.suffix == ".npy" for p in files) and any(p.suffix == ".faiss" for p in files)
    assert {str(p): not_plain(p) for p in files if not_plain(p)} == {}
    # the check can fail: a pickle, an object array, a stray kind of file
    (tmp_path / "rows.json").write_bytes(PICKLED_DICT)
    _write_object_npy(tmp_path / "ids.npy")
    (tmp_path / "model.pkl").write_bytes(b"plain bytes")
    assert not_plain(tmp_path / "rows.json") == "a pickle"
    assert not_plain(tmp_path / "ids.npy") == "an object array (pickled items)"
    assert not_plain(tmp_path / "model.pkl").startswith("an unexpected kind")


def _write_object_npy(path: Path) -> None:
    """What np.save writes for an object array: an .npy header of dtype "|O", then a pickle."""
    with path.open("wb") as f:
        header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(PICKLED_DICT)
