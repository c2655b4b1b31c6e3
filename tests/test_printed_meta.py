"""Citation metadata read from a PDF's first page: citation line, running header, byline,
printed year over the file's creation date, journal page numbers, and sidecar merging."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from core.settings import IngestSettings
from core.types import Source
from ingest.pdf_document import load_pdf
from ingest.printed import (
    byline,
    citation_line,
    expand_page_range,
    journal_page_labels,
    printed_metadata,
    running_header,
)
from tests.conftest import shared_path


def test_citation_lines_in_common_styles():
    assert citation_line(["Blood. 2025;145(1):64-74. doi:10.1182/x"]) == {
        "journal": "Blood",
        "year": "2025",
        "volume": "145",
        "issue": "1",
        "pages": "64-74",
    }
    assert (
        citation_line(["Environmental Health Perspectives 2008; 116(12): 1694–1699"])["pages"]
        == "1694-1699"
    )
    found = citation_line(["J Clin Oncol. 2019 Mar 1;37(7):525-533."])
    assert (found["journal"], found["year"], found["volume"]) == ("J Clin Oncol", "2019", "37")
    assert citation_line(["N Engl J Med 2018;378:1865-1876"])["pages"] == "1865-1876"
    assert citation_line(["We enrolled 40 patients in 2019; 12 relapsed: 5 died"]) == {}


def test_running_headers():
    assert running_header(["Blood 2 January 2025 | Volume 145, Number 1 | How I Treat"]) == {
        "journal": "Blood",
        "year": "2025",
        "volume": "145",
        "issue": "1",
    }
    assert running_header(["PLoS ONE | 2012 | Volume 7 | Issue 9 | e46493"]) == {
        "journal": "PLoS ONE",
        "year": "2012",
        "volume": "7",
        "issue": "9",
        "pages": "e46493",
    }
    ehp = running_header(
        ["Environmental Health Perspectives | Volume 116 | Number 12 | December 2008"]
    )
    assert ehp["year"] == "2008" and ehp["issue"] == "12"
    assert running_header(["Results | Discussion"]) == {}


def test_bylines_and_non_bylines():
    assert byline("Adam J. Lamble1, Alexandra E. Kovach2,3 and Nirali N. Shah*") == (
        "Adam J. Lamble",
        "Alexandra E. Kovach",
        "Nirali N. Shah",
    )
    assert byline("J. A. W. Coetzer, Jean-François Cavalier, Ludwig van Beethoven")[2] == (
        "Ludwig van Beethoven"
    )
    assert byline("Background: We studied 40 patients") == ()
    assert byline("Abstract") == ()


def test_page_ranges_and_journal_page_labels():
    assert expand_page_range("1865-76") == (1865, 1876)
    assert expand_page_range("e46493") is None
    assert journal_page_labels(1, ("1",), "64-74") == ("64",)
    assert journal_page_labels(3, ("1", "2", "3"), "64-74") == ("64", "65", "66")
    assert journal_page_labels(7, tuple("1234567"), "1694-1699") == ()  # PDF longer than range
    assert journal_page_labels(2, ("i", "ii"), "") == ("i", "ii")  # the PDF's own labels
    src = Source("x", page_labels=("64", "65"))
    assert (src.page_label(2), src.page_label(3), src.page_label(None)) == ("65", "3", "")


REFERENCE_PDFS = {
    "pone.0046493.pdf": ("PLoS ONE", 2012, "7", "9", "e46493"),
    "pntd.0002065.pdf": ("PLoS Neglected Tropical Diseases", 2013, "7", "2", "e2065"),
    "ehp-116-1694.pdf": ("Environmental Health Perspectives", 2008, "116", "12", "1694-1699"),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_PDFS))
def test_reference_pdfs_without_sidecar_get_printed_metadata(name):
    folder = shared_path("bench", "references")
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))[name]
    source = load_pdf(folder / name, "sha", IngestSettings()).source
    journal, year, volume, issue, pages = REFERENCE_PDFS[name]
    assert (source.journal, source.year, source.volume, source.issue, source.pages) == (
        journal,
        year,
        volume,
        issue,
        pages,
    )  # the info dict's creation date says 2000
    byline_block = next(b["text"] for b in truth["blocks"] if b["kind"] == "authors")
    assert source.authors == tuple(byline_block.split(", "))
    assert source.doi == truth["article_doi"] and source.title == truth["title"]


def test_review_pdf_alone_reads_blood_2025_not_the_creation_year():
    source = load_pdf(
        shared_path("bench", "pdf-fidelity", "lamble-2025-blood.pdf"), "sha", IngestSettings()
    ).source
    assert (source.journal, source.year, source.volume, source.issue) == ("Blood", 2025, "145", "1")
    assert source.authors == ("Adam J. Lamble", "Alexandra E. Kovach", "Nirali N. Shah")
    assert source.doi == "10.1182/blood.2024024517"


def test_sidecar_merges_with_the_page_and_maps_pdf_page_1_to_journal_page_64(tmp_path):
    review = shared_path("corpus", "review")
    pdf = tmp_path / "review.pdf"
    shutil.copyfile(review / "lamble-2025-blood.pdf", pdf)
    sidecar = json.loads((review / "lamble-2025-blood.json").read_text(encoding="utf-8"))
    sidecar.pop("doi")
    sidecar["journal"] = ""  # a field without a value keeps the printed one
    pdf.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
    source = load_pdf(pdf, "sha", IngestSettings()).source
    assert source.doi == "10.1182/blood.2024024517"  # printed, kept
    assert source.source_id == "doi:10.1182/blood.2024024517"
    assert (source.journal, source.pages, source.page_labels) == ("Blood", "64-74", ("64",))
    assert source.page_label(1) == "64"


def test_printed_metadata_prefers_the_inline_citation_over_the_header():
    page = "A title\nAnn Smith, Bob Jones\nBlood. 2020;135(4):10-20.\nAbstract\nText."
    found = printed_metadata(page, ("Blood | Volume 99 | 2019",))
    assert (found["year"], found["volume"], found["pages"]) == ("2020", "135", "10-20")
    assert found["authors"] == ["Ann Smith", "Bob Jones"] and found["title"] == "A title"
    assert not re.search(r"\d", found["journal"])
