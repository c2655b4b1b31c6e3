"""Reference-manager exports: BibTeX (Zotero files/ layout), RIS (EndNote .Data layout) and
CSL-JSON, built here and pointing at the shared PDFs; attached PDFs ingested with the
entry's metadata, metadata-only sources, per-file errors, and a later PDF filling one in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.build import ingest_paths
from index.inputs import discover
from index.status import index_status
from index.store import Store
from ingest import refmanager as rm
from tests.conftest import shared_path

PONE_DOI = "10.1371/journal.pone.0046493"
REVIEW_DOI = "10.1182/blood.2024024517"

BIB = r"""@article{delorme2012,
  title = {{MmPPOX} Inhibits \textit{Mycobacterium tuberculosis} Lipolytic Enzymes},
  author = {Delorme, Vincent and Diomand{\'e}, Sadia V. and Canaan, St{\'e}phane},
  journal = {PLoS One},
  year = {2012}, volume = {7}, number = {9}, pages = {e46493},
  doi = {10.1371/journal.pone.0046493}, pmid = {23029536},
  file = {Full Text PDF:files/12/Delorme2012.pdf:application/pdf;Snapshot:files/13/page.html:text/html},
}
@article{lamble2025,
  title = {How {I} treat postimmunotherapy relapsed {B-ALL}},
  author = {Lamble, Adam J. and Kovach, Alexandra E. and Shah, Nirali N.},
  journal = {Blood}, year = {2025}, volume = {145}, number = {1}, pages = {64--74},
  doi = {10.1182/blood.2024024517},
  mendeley-weird = {x},
}
@article{ghost2020,
  title = {A paper whose PDF was not exported},
  author = {Nobody, Ann}, journal = {J Test}, year = {2020}, pmid = {31000001},
  file = {files/99/missing.pdf},
}
"""

RIS = """TY  - JOUR
ID  - 7
TI  - Serological Evidence of Rift Valley Fever Virus Circulation
AU  - Fafetine, José
AU  - Neves, Luis
T2  - PLoS Neglected Tropical Diseases
PY  - 2013
VL  - 7
IS  - 2
SP  - e2065
DO  - 10.1371/journal.pntd.0002065
AN  - 23469306
L1  - internal-pdf://0412345678/pntd.pdf
ZZ  - a tag no RIS reader knows
ER  -
"""


@pytest.fixture
def exports(tmp_path):
    refs = shared_path("bench", "references")
    folder = tmp_path / "zotero"
    (folder / "files" / "12").mkdir(parents=True)
    shutil.copyfile(refs / "pone.0046493.pdf", folder / "files" / "12" / "Delorme2012.pdf")
    (folder / "library.bib").write_text(BIB, encoding="utf-8")
    (folder / "endnote.ris").write_text(RIS, encoding="utf-8")
    pdf_dir = folder / "endnote.Data" / "PDF" / "0412345678"
    pdf_dir.mkdir(parents=True)
    shutil.copyfile(refs / "pntd.0002065.pdf", pdf_dir / "pntd.pdf")
    csl = [
        {
            "id": "lema2008",
            "type": "article-journal",
            "title": "Dietary Exposure to PBDE-47 Alters Thyroid Status",
            "author": [{"family": "Lema", "given": "Sean C."}, {"literal": "EHP Group"}],
            "container-title": "Environmental Health Perspectives",
            "issued": {"date-parts": [[2008, 12]]},
            "volume": "116",
            "issue": "12",
            "page": "1694-1699",
            "DOI": "10.1289/ehp.11570",
            "file": str(refs / "ehp-116-1694.pdf"),
        },
        {"id": "nofile", "type": "article-journal", "title": "Only metadata", "PMID": "1234"},
    ]
    (folder / "mendeley.json").write_text(json.dumps(csl), encoding="utf-8")
    return folder


def test_parsers_read_names_files_and_fields(exports):
    bib = rm.read_export(exports / "library.bib")
    first = bib.entries[0]
    assert first.meta["title"] == "MmPPOX Inhibits Mycobacterium tuberculosis Lipolytic Enzymes"
    assert first.meta["authors"][1] == "Sadia V. Diomandé"
    assert first.files == ("files/12/Delorme2012.pdf", "files/13/page.html")
    assert bib.entries[1].meta["pages"] == "64-74"
    assert "entry lamble2025: unknown field(s) mendeley-weird ignored" in bib.warnings
    ris = rm.read_export(exports / "endnote.ris")
    assert ris.entries[0].meta["pmid"] == "23469306"
    assert ris.warnings == ["entry 7: unknown RIS tag(s) ZZ ignored"]
    assert rm.resolve_attachment("internal-pdf://0412345678/pntd.pdf", exports / "endnote.ris") == (
        exports / "endnote.Data" / "PDF" / "0412345678" / "pntd.pdf"
    )
    assert rm.bibtex_files(r":C\:/Users/me/paper.pdf:pdf") == ["C:/Users/me/paper.pdf"]
    csl = rm.read_export(exports / "mendeley.json")
    assert csl.entries[0].meta["authors"] == ["Sean C. Lema", "EHP Group"]
    assert csl.entries[0].meta["year"] == "2008"


def test_discover_takes_exports_not_their_attached_pdfs_nor_sidecars(exports, tmp_path):
    (tmp_path / "zotero" / "paper.pdf").write_bytes(b"%PDF-1.4 x %%EOF")
    (tmp_path / "zotero" / "paper.json").write_text('{"title": "sidecar"}', encoding="utf-8")
    (tmp_path / "zotero" / "settings.json").write_text('{"theme": "dark"}', encoding="utf-8")
    found, skipped, _ = discover([exports])
    names = sorted(p.relative_to(exports).as_posix() for p in found)
    assert names == ["endnote.ris", "library.bib", "mendeley.json", "paper.pdf"]
    assert (str(exports / "settings.json"), "unsupported file type '.json'") in skipped


def test_exports_ingest_attached_pdfs_with_their_metadata_and_keep_metadata_only(
    exports, settings_for
):
    settings = settings_for()
    bad = exports / "latin1.bib"
    bad.write_bytes("@article{x, title={Caf\u00e9}}".encode("latin-1"))
    report = ingest_paths([exports], settings)
    assert sorted(Path(p).name for p in report.ok) == [
        "endnote.ris",
        "library.bib",
        "mendeley.json",
    ]
    assert report.failed == [
        (
            str(bad),
            "not UTF-8 text (invalid continuation byte at byte 22); re-export it as UTF-8 "
            "(Zotero/Mendeley: character encoding 'Unicode (UTF-8)')",
        )
    ]
    warned = [m for _, m in report.warnings]
    assert (
        "entry ghost2020: attached file files/99/missing.pdf not found; kept as metadata only"
        in warned
    )
    status = index_status(settings)
    by_id = {s["source_id"]: s for s in status["sources"]}
    assert by_id[f"doi:{PONE_DOI}"]["chunks"] > 20
    assert by_id["doi:10.1371/journal.pntd.0002065"]["chunks"] > 10
    assert by_id["doi:10.1289/ehp.11570"]["chunks"] > 10
    for stub in (f"doi:{REVIEW_DOI}", "pmid:31000001", "pmid:1234"):
        assert by_id[stub]["chunks"] == 0 and by_id[stub]["metadata_only"]  # never quoted
    assert not by_id[f"doi:{PONE_DOI}"]["metadata_only"]
    from app.reporting import format_status

    assert "[metadata only]" in format_status(status, sources=True)
    store = Store(Path(settings.index_dir) / "current" / "store.sqlite")
    try:
        pone = store.sources[f"doi:{PONE_DOI}"]
        assert pone.journal == "PLoS One" and pone.pmid == "23029536"  # the entry's, not the PDF's
        assert pone.authors[0] == "Vincent Delorme" and pone.path.endswith("Delorme2012.pdf")
        assert store.sources["doi:10.1289/ehp.11570"].title.startswith(
            "Dietary Exposure to PBDE-47"
        )
        assert store.metadata_only_ids() == {f"doi:{REVIEW_DOI}", "pmid:31000001", "pmid:1234"}
        assert set(store.files()) == {
            str(exports / n) for n in ("endnote.ris", "library.bib", "mendeley.json")
        }
    finally:
        store.close()

    # a later PDF with the same DOI fills the metadata-only entry in
    later = ingest_paths([shared_path("corpus", "review")], settings)
    assert later.ok and any(
        "metadata-only entry; its text comes from" in m for _, m in later.warnings
    )
    by_id = {s["source_id"]: s for s in index_status(settings)["sources"]}
    assert by_id[f"doi:{REVIEW_DOI}"]["chunks"] >= 1
    assert by_id["pmid:31000001"]["chunks"] == 0 and by_id[f"doi:{PONE_DOI}"]["chunks"] > 20


def test_unreadable_exports_are_clear_per_file_errors(tmp_path, settings_for):
    (tmp_path / "empty.ris").write_text("not ris at all\n", encoding="utf-8")
    (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
    (tmp_path / "note.txt").write_text("A note about CAR T relapse.", encoding="utf-8")
    report = ingest_paths([tmp_path], settings_for("idx"))
    failed = dict((Path(p).name, r) for p, r in report.failed)
    assert failed["empty.ris"].startswith("no reference entries found")
    assert failed["broken.json"].startswith("not JSON (")
    assert [Path(p).name for p in report.ok] == ["note.txt"]


def test_a_document_with_text_takes_the_fields_it_lacks_from_the_entry():
    from core.types import Source
    from index.owners import filled

    pdf = Source("doi:10.1/x", title="Printed title", doi="10.1/x", path="/a.pdf", year=2020)
    entry = Source("doi:10.1/x", title="Entry title", pmid="42", journal="Blood", path="/z.bib")
    merged = filled(pdf, entry)
    assert (merged.title, merged.pmid, merged.journal, merged.path) == (
        "Printed title",
        "42",
        "Blood",
        "/a.pdf",
    )
