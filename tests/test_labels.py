"""Evidence labels: MEDLINE publication types and MeSH decide; text rules otherwise."""

from __future__ import annotations

from core.types import Source
from ingest.labels import (
    design_from_medline,
    design_from_text,
    diseases_from_text,
    evidence_labels,
    label_source,
    population_from_mesh,
    population_from_text,
)


def test_publication_types_pick_the_most_specific_design():
    assert design_from_medline(["Journal Article", "Randomized Controlled Trial"]) == (
        "randomized-trial"
    )
    assert design_from_medline(["Clinical Trial, Phase III", "Randomized Controlled Trial"]) == (
        "phase-3-trial"
    )
    assert design_from_medline(["Review", "Meta-Analysis"]) == "systematic-review"
    assert design_from_medline(["Journal Article"], ["Retrospective Studies"]) == "cohort"
    assert design_from_medline(["Case Reports"]) == "case-report"
    assert design_from_medline(["Journal Article"]) == ""


def test_text_rules_for_design():
    assert design_from_text("A phase 2 study of inotuzumab") == "phase-2-trial"
    assert design_from_text("Phase I/II trial of CD22 CAR T cells") == "phase-2-trial"
    assert design_from_text("Tisagenlecleucel: a phase 1 dose-escalation study") == "phase-1-trial"
    assert design_from_text("Outcomes", "Patients were randomly assigned to A or B.") == (
        "randomized-trial"
    )
    assert design_from_text("How I treat postimmunotherapy relapsed B-ALL") == "review"
    assert design_from_text("Outcomes", "We review prior work.") == ""  # not in the abstract
    assert design_from_text("A retrospective analysis of 200 patients") == "cohort"
    assert design_from_text("CD19-negative relapse: a case report") == "case-report"
    assert design_from_text("Blinatumomab and CAR T: a systematic review") == "systematic-review"


def test_population_from_mesh_and_text():
    assert population_from_mesh(["Child", "Humans"]) == "pediatric"
    assert population_from_mesh(["Adult", "Adolescent"]) == "both"
    assert population_from_mesh(["Aged"]) == "adult"
    assert population_from_mesh(["Humans"]) == ""
    assert population_from_text("in children and young adults with ALL") == "both"
    assert population_from_text("a Children's Oncology Group trial") == "pediatric"
    assert population_from_text("older adults with AML") == "adult"
    assert population_from_text("mice were injected") == ""


def test_disease_rules_keep_all_upper_case_and_lineage():
    assert diseases_from_text("relapsed B-ALL after blinatumomab") == ("B-ALL",)
    assert diseases_from_text("B-cell acute lymphoblastic leukemia and AML") == ("B-ALL", "AML")
    assert diseases_from_text("acute lymphoblastic leukaemia in all children") == ("ALL",)
    assert diseases_from_text("all patients responded") == ()
    assert diseases_from_text("DLBCL and CLL; non-Hodgkin lymphoma") == ("CLL", "DLBCL")
    assert diseases_from_text("classical Hodgkin lymphoma") == ("HL",)


def test_mesh_decides_disease_and_text_fills_what_medline_lacks():
    labels = evidence_labels(
        "CAR T cells in leukemia",
        "Adults were treated.",
        ["Clinical Trial, Phase I"],
        ["Precursor B-Cell Lymphoblastic Leukemia-Lymphoma", "Humans"],
    )
    assert (labels.design, labels.population, labels.diseases, labels.labels_from) == (
        "phase-1-trial",
        "adult",
        ("B-ALL",),
        "medline",
    )
    plain = label_source(Source("pmid:1", title="A case report of AML in a child"), "")
    assert (plain.design, plain.population, plain.diseases, plain.labels_from) == (
        "case-report",
        "pediatric",
        ("AML",),
        "text",
    )
    assert label_source(Source("pmid:2", title="Soil bacteria"), "").labels_from == "none"


def test_store_json_round_trip_keeps_labels_and_reads_older_and_newer_rows():
    from index.store_rows import source_from_json, source_to_json

    source = Source("pmid:3", mesh=("Child",), diseases=("B-ALL", "AML"), design="cohort")
    assert source_from_json(source_to_json(source)) == source
    old = source_from_json('{"source_id": "pmid:4", "title": "T", "authors": ["A B"]}')
    assert old.authors == ("A B",) and old.diseases == () and old.design == ""
    assert source_from_json('{"source_id": "pmid:5", "added_later": 1}').source_id == "pmid:5"
