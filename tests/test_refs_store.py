"""A work's references and citations persist in the store and survive incremental builds."""

from __future__ import annotations

import shutil

from core.types import Citation, Document, Reference, Source
from index import layout
from index.build import ingest_paths
from index.store import Store, write_store

REF = Reference(
    1,
    "Maude SL. Tisagenlecleucel. N Engl J Med. 2018;378:439-448.",
    authors=("Maude SL",),
    year=2018,
)
CIT = Citation(0, 20, (1, 2), 18, 20)


def test_write_and_read_references(tmp_path):
    review = Document(
        Source("doi:r"), "Relapse is common.12 More.", references=(REF,), citations=(CIT,)
    )
    plain = Document(Source("pmid:1"), "No references here.")
    path = tmp_path / "store.sqlite"
    write_store(path, [review, plain], [], {})
    store = Store(path)
    try:
        doc = store.document("doi:r")
        assert doc.references == (REF,) and doc.citations == (CIT,)
        assert store.document("pmid:1").references == ()
        assert store.sources_with_references() == ["doi:r"]
    finally:
        store.close()
    # rows copied by SQL into a new store keep their references
    other = tmp_path / "next.sqlite"
    write_store(other, [Document(Source("pmid:2"), "New.")], [], {}, copy_from=(path, ["doi:r"]))
    store = Store(other)
    try:
        assert store.document("doi:r").references == (REF,)
        assert sorted(store.sources) == ["doi:r", "pmid:2"]
    finally:
        store.close()


def _refs_of(settings, source_id):
    store = Store(layout.current_build(settings.index_dir) / "store.sqlite")
    try:
        return store.references_of(source_id)
    finally:
        store.close()


def test_incremental_builds_keep_a_pdfs_references(tmp_path, settings_for):
    from tests.conftest import shared_path

    pdf = shared_path("bench", "references", "pntd.0002065.pdf")
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(pdf, lib / "pntd.pdf")
    (lib / "a.txt").write_text("Rift Valley fever in sheep.", encoding="utf-8")
    settings = settings_for()
    assert not ingest_paths([lib], settings).failed
    sid = "doi:10.1371/journal.pntd.0002065"
    refs, cits = _refs_of(settings, sid)
    assert len(refs) == 32 and len(cits) >= 30
    (lib / "b.txt").write_text("Goats and sheep in Mozambique.", encoding="utf-8")
    assert ingest_paths([lib], settings).changed  # a file added: the store is copied whole
    assert _refs_of(settings, sid) == (refs, cits)
    (lib / "a.txt").write_text("Rift Valley fever in goats.", encoding="utf-8")
    assert ingest_paths([lib], settings).changed  # a file changed: rows copied by SQL
    assert _refs_of(settings, sid) == (refs, cits)


def test_an_index_from_before_schema_4_gains_a_pdfs_references(tmp_path, settings_for):
    import json
    import sqlite3

    from tests.conftest import shared_path

    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(shared_path("bench", "references", "pntd.0002065.pdf"), lib / "pntd.pdf")
    settings = settings_for()
    assert not ingest_paths([lib], settings).failed
    build = layout.current_build(settings.index_dir)
    db = sqlite3.connect(build / "store.sqlite")  # make it look like a schema-3 build
    db.execute("DROP TABLE doc_refs")
    db.commit()
    db.close()
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["schema_version"] = 3
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert _refs_of(settings, "doi:10.1371/journal.pntd.0002065") == ((), ())
    report = ingest_paths([lib], settings)  # schema changed: rebuilt from the stored texts
    assert report.changed and report.unchanged
    refs, cits = _refs_of(settings, "doi:10.1371/journal.pntd.0002065")
    assert len(refs) == 32 and len(cits) >= 30
