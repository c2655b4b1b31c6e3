"""Resolving references to library sources: exact ids first, fuzzy titles with a threshold,
never a guess; and the measured targets on the shared test library."""

from __future__ import annotations

import json

from core.types import Reference, Source
from index.resolve import THRESHOLD, normalize_doi, resolve_references
from ingest.references import parse_reference

LIB = [
    Source(
        "pmid:29385370",
        title="Tisagenlecleucel in Children and Young Adults with B-Cell Lymphoblastic Leukemia.",
        authors=("Maude SL", "Laetsch TW"),
        year=2018,
        pmid="29385370",
    ),
    Source(
        "doi:10.1056/nejmoa1609783",
        title="Blinatumomab versus chemotherapy",
        doi="10.1056/NEJMoa1609783",
    ),
    Source(
        "pmid:1",
        title="Zhou T effects of short-term exposure in rats",
        authors=("Zhou T",),
        year=2001,
    ),
    Source(
        "pmid:2",
        title="Zhou T effects of short-term exposure in rats",
        authors=("Zhou T",),
        year=2001,
    ),
]


def test_doi_then_pmid_then_title():
    refs = [
        Reference(1, "Kantarjian H. Blina. 2017.", doi="https://doi.org/10.1056/NEJMOA1609783"),
        Reference(2, "Someone. Something. 2018.", pmid="29385370"),
        parse_reference(
            3,
            "Maude SL, Laetsch TW, Buechner J, et al. Tisagenlecleucel in children and young "
            "adults with B-cell lymphoblastic leukemia. N Engl J Med. 2018;378(5):439-448.",
        ),
    ]
    got = resolve_references(refs, LIB)
    assert [(r.source_id, r.method) for r in got] == [
        ("doi:10.1056/nejmoa1609783", "doi"),
        ("pmid:29385370", "pmid"),
        ("pmid:29385370", "title"),
    ]
    assert got[2].score >= THRESHOLD


def test_unrelated_or_ambiguous_references_stay_unresolved():
    refs = [
        parse_reference(
            1, "Pan J, Yang JF. High efficacy of low-dose CAR-T. Leukemia. 2017;31:2587."
        ),
        parse_reference(
            2, "Zhou T. Effects of short-term exposure in rats. Toxicol Sci. 2001;61:76."
        ),
    ]
    got = resolve_references(refs, LIB)
    assert [r.source_id for r in got] == [None, None]  # no match; two identical candidates
    assert got[1].best_candidate in {"pmid:1", "pmid:2"}


def test_the_citing_work_is_not_its_own_reference():
    ref = Reference(1, "x", pmid="29385370")
    assert resolve_references([ref], LIB, exclude="pmid:29385370")[0].source_id is None


def test_normalize_doi():
    assert normalize_doi(" doi: 10.1182/BLOOD.2024024517. ") == "10.1182/blood.2024024517"


def test_resolution_targets_on_the_shared_test_library():
    from tests.conftest import shared_path

    folder = shared_path("bench", "references")
    shared = folder.parents[1]
    from eval.bench_refs import bench_resolution, pdf_document

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    docs = {name: pdf_document(folder / name) for name in truth}
    result = bench_resolution(
        folder, shared / "fixtures" / "jats", shared / "fixtures" / "pubmed", docs
    )
    for split in ("calibration", "held_out"):
        assert result[split]["wrong"] == 0
        assert result[split]["right_rate"] >= 0.95
        assert result[split]["left_out_unresolved"] == result[split]["left_out"]
