"""Evidence labels of a source: study design, population and disease (pure functions).

Label names are stable (filters, exports and the answer scorer rely on them):

design (one value, "" = unknown), most specific evidence first:
    systematic-review   systematic review or meta-analysis
    guideline           practice guideline / consensus statement
    phase-3-trial       phase 3 (or 4) clinical trial
    randomized-trial    randomized controlled trial (phase not stated or 2 and randomized)
    phase-2-trial       phase 2 trial (phase 1/2 counts as phase 2)
    phase-1-trial       phase 1 trial
    clinical-trial      other interventional trial
    cohort              cohort / observational / registry / case-control study
    case-report         case report or case series of named patients
    review              narrative review
population (one value, "" = unknown): pediatric | adult | both
diseases (a tuple, possibly empty): B-ALL, T-ALL, ALL (lineage not stated), AML, CML, CLL,
    DLBCL, FL, MCL, HL, MM, MDS

Where a source has MEDLINE publication types or MeSH headings they decide (`labels_from` =
"medline"), each label they leave empty falls back to rules over the title and abstract
(`labels_from` = "text" when only rules decided; "none" when nothing matched; "" = never
labeled, e.g. a source from a store older than the labels).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from core.types import Source

DESIGNS = (
    "systematic-review",
    "guideline",
    "phase-3-trial",
    "randomized-trial",
    "phase-2-trial",
    "phase-1-trial",
    "clinical-trial",
    "cohort",
    "case-report",
    "review",
)
POPULATIONS = ("pediatric", "adult", "both")
DISEASES = ("B-ALL", "T-ALL", "ALL", "AML", "CML", "CLL", "DLBCL", "FL", "MCL", "HL", "MM", "MDS")


def _keyed(rules) -> tuple:
    """Each rule as (name, its lower-case keys, its upper-case keys, regex), split once."""
    return tuple(
        (
            name,
            tuple(k for k in keys if not k.isupper()),
            tuple(k for k in keys if k.isupper()),
            rule,
        )
        for name, keys, rule in rules
    )


# MEDLINE publication type (or study-type MeSH heading) -> design.
_PUBTYPE_DESIGN = {
    "meta-analysis": "systematic-review",
    "systematic review": "systematic-review",
    "network meta-analysis": "systematic-review",
    "practice guideline": "guideline",
    "guideline": "guideline",
    "consensus development conference": "guideline",
    "consensus development conference, nih": "guideline",
    "clinical trial, phase iii": "phase-3-trial",
    "clinical trial, phase iv": "phase-3-trial",
    "randomized controlled trial": "randomized-trial",
    "pragmatic clinical trial": "randomized-trial",
    "equivalence trial": "randomized-trial",
    "clinical trial, phase ii": "phase-2-trial",
    "clinical trial, phase i": "phase-1-trial",
    "clinical trial": "clinical-trial",
    "controlled clinical trial": "clinical-trial",
    "adaptive clinical trial": "clinical-trial",
    "observational study": "cohort",
    "cohort studies": "cohort",
    "retrospective studies": "cohort",
    "prospective studies": "cohort",
    "case-control studies": "cohort",
    "longitudinal studies": "cohort",
    "registries": "cohort",
    "case reports": "case-report",
    "review": "review",
    "scoping review": "review",
}

_TEXT_DESIGN = (
    ("systematic-review", ("meta", "systematic"), re.compile(r"meta-?analys[ie]s|systematic (literature )?review", re.I)),
    ("guideline", ("guideline", "consensus"), re.compile(r"\bguidelines?\b|consensus (statement|recommendations?)", re.I)),
    ("phase-3-trial", ("phase",), re.compile(r"\bphase[- ](3|III|IV|4)\b", re.I)),
    ("randomized-trial", ("randomi", "randomly"), re.compile(r"\brandomi[sz]ed\b|\brandomly assigned\b", re.I)),
    ("phase-2-trial", ("phase",), re.compile(r"\bphase[- ](2|II|1/2|I/II|1b/2|Ib/II)\b", re.I)),
    ("phase-1-trial", ("phase",), re.compile(r"\bphase[- ](1|I|1b|Ib)\b", re.I)),
    ("clinical-trial", ("trial", "single-arm"), re.compile(r"\b(clinical|pilot) trial\b|\bsingle-arm\b", re.I)),
    ("case-report", ("case report", "we report", "we describe", "we present"), re.compile(r"\bcase reports?\b|\bwe (report|describe|present) (a|an|two|three) (\w+ )?(case|patient|boy|girl|man|woman)", re.I)),
    ("cohort", ("retrospective", "prospective", "cohort", "registry", "observational", "case-control", "population-based"), re.compile(r"\b(retrospective|prospective|cohort|registry|observational|case-control|population-based)\b", re.I)),
    ("review", ("review", "how i treat"), re.compile(r"\b(review|how I treat)\b", re.I)),
)  # fmt: skip

_PEDIATRIC_MESH = {"child", "child, preschool", "infant", "infant, newborn", "adolescent"}
_ADULT_MESH = {"adult", "young adult", "middle aged", "aged", "aged, 80 and over"}
_PEDIATRIC_TEXT = re.compile(
    r"\b(child(ren|hood)?|pediatric|paediatric|infants?|adolescen\w*|neonat\w*|"
    r"children's oncology group|AYA)\b",
    re.I,
)
_ADULT_TEXT = re.compile(
    r"\b(adults?|elderly|older (patients|adults)|aged (≥|>=)? ?[2-9]\d)\b", re.I
)

_DISEASE_MESH = {
    "precursor b-cell lymphoblastic leukemia-lymphoma": "B-ALL",
    "precursor t-cell lymphoblastic leukemia-lymphoma": "T-ALL",
    "precursor cell lymphoblastic leukemia-lymphoma": "ALL",
    "leukemia, myeloid, acute": "AML",
    "leukemia, promyelocytic, acute": "AML",
    "leukemia, myelogenous, chronic, bcr-abl positive": "CML",
    "leukemia, lymphocytic, chronic, b-cell": "CLL",
    "lymphoma, large b-cell, diffuse": "DLBCL",
    "lymphoma, follicular": "FL",
    "lymphoma, mantle-cell": "MCL",
    "hodgkin disease": "HL",
    "multiple myeloma": "MM",
    "myelodysplastic syndromes": "MDS",
}
_DISEASE_TEXT = (
    ("B-ALL", ("ALL", "lymphoblastic"), re.compile(r"\bB-?ALL\b|\bB-cell (precursor )?acute lymphoblastic|\bB-(cell )?lymphoblastic|\bprecursor B-cell ALL\b|\bBCP-ALL\b")),
    ("T-ALL", ("ALL", "lymphoblastic"), re.compile(r"\bT-?ALL\b|\bT-cell acute lymphoblastic|\bT-lymphoblastic")),
    ("ALL", ("ALL", "lymphoblastic"), re.compile(r"(?i:\bacute lymphoblastic leuka?emia)|\bALL\b")),  # ALL: upper case
    ("AML", ("AML", "myel"), re.compile(r"\bacute myeloid leuka?emia|\bacute myelogenous|\bAML\b", re.I)),
    ("CML", ("CML", "myel"), re.compile(r"\bchronic myeloid leuka?emia|\bchronic myelogenous|\bCML\b", re.I)),
    ("CLL", ("CLL", "lymphocytic"), re.compile(r"\bchronic lymphocytic leuka?emia|\bCLL\b", re.I)),
    ("DLBCL", ("DLBCL", "diffuse large"), re.compile(r"\bdiffuse large B-cell lymphoma|\bDLBCL\b", re.I)),
    ("FL", ("follicular",), re.compile(r"\bfollicular lymphoma")),
    ("MCL", ("MCL", "mantle"), re.compile(r"\bmantle[- ]cell lymphoma|\bMCL\b")),
    ("HL", ("hodgkin",), re.compile(r"(?<!non-)(?<!non )\bHodgkin('s)? (lymphoma|disease)", re.I)),
    ("MM", ("myeloma",), re.compile(r"\bmultiple myeloma\b", re.I)),
    ("MDS", ("MDS", "myelodysplastic"), re.compile(r"\bmyelodysplastic|\bMDS\b")),
)  # fmt: skip


_TEXT_DESIGN = _keyed(_TEXT_DESIGN)
_DISEASE_TEXT = _keyed(_DISEASE_TEXT)


@dataclass(frozen=True)
class Labels:
    design: str = ""
    population: str = ""
    diseases: tuple[str, ...] = ()
    labels_from: str = ""


def design_from_medline(publication_types, mesh=()) -> str:
    """The most specific design named by MEDLINE publication types or study-type MeSH."""
    found = {_PUBTYPE_DESIGN.get(t.strip().lower()) for t in (*publication_types, *mesh)}
    return next((d for d in DESIGNS if d in found), "")


def design_from_text(title: str, abstract: str = "") -> str:
    """The most specific design whose rule matches the title, else the abstract (where
    guideline and review do not count: an abstract that mentions them is not one)."""
    for in_abstract, text in enumerate((title, abstract)):
        for name in _matching(_TEXT_DESIGN, text or ""):
            if not (in_abstract and name in ("guideline", "review")):
                return name
    return ""


def _population(pediatric: bool, adult: bool) -> str:
    return "both" if pediatric and adult else "pediatric" if pediatric else "adult" if adult else ""


def population_from_mesh(mesh) -> str:
    names = {m.strip().lower() for m in mesh}
    return _population(bool(names & _PEDIATRIC_MESH), bool(names & _ADULT_MESH))


_POPULATION_TEXT = (
    ("pediatric", ("child", "pediatric", "paediatric", "infant", "adolescen", "neonat", "aya"), _PEDIATRIC_TEXT),
    ("adult", ("adult", "elderly", "older", "aged"), _ADULT_TEXT),
)  # fmt: skip
_POPULATION_TEXT = _keyed(_POPULATION_TEXT)


def population_from_text(text: str, lower: str | None = None) -> str:
    found = set(_matching(_POPULATION_TEXT, text, lower))
    return _population("pediatric" in found, "adult" in found)


def diseases_from_mesh(mesh) -> tuple[str, ...]:
    found = {_DISEASE_MESH.get(m.strip().lower()) for m in mesh}
    return _ordered_diseases(found)


def _matching(rules, text: str, lower: str | None = None) -> Iterator[str]:
    """Names of the rules that match `text`, in rule order; a rule's regex runs only when
    one of its key words occurs (a cheap substring test first: an upper-case key is looked
    for as written, a lower-case one in the lower-cased text, `lower` when given)."""
    lower = text.lower() if lower is None else lower
    for name, lower_keys, upper_keys, rule in rules:
        if (
            any(map(lower.__contains__, lower_keys)) or any(map(text.__contains__, upper_keys))
        ) and rule.search(text):
            yield name


def diseases_from_text(text: str, lower: str | None = None) -> tuple[str, ...]:
    return _ordered_diseases(set(_matching(_DISEASE_TEXT, text, lower)))


def _ordered_diseases(found: set) -> tuple[str, ...]:
    if found & {"B-ALL", "T-ALL"}:
        found.discard("ALL")  # the lineage is known
    return tuple(d for d in DISEASES if d in found)


def evidence_labels(title: str, abstract: str, publication_types=(), mesh=()) -> Labels:
    """Labels from MEDLINE indexing where it decides, from title/abstract rules otherwise."""
    text = f"{title}\n{abstract}"
    design = design_from_medline(publication_types, mesh)
    population = population_from_mesh(mesh)
    diseases = diseases_from_mesh(mesh)
    medline = bool(design or population or diseases)
    if not design:
        design = design_from_text(title, abstract)
    lower = text.lower() if not (population and diseases) else ""
    if not population:
        population = population_from_text(text, lower)
    if not diseases:
        diseases = diseases_from_text(text, lower)
    source = "medline" if medline else ("text" if design or population or diseases else "none")
    return Labels(design, population, diseases, source)


LABEL_TEXT_CHARS = 20_000  # an abstract or a paper's opening pages decide


def label_fields(title: str, text: str, publication_types=(), mesh=()) -> dict:
    """A Source's label fields (design, population, diseases, labels_from) from its MEDLINE
    fields, else its title and the start of its text; for building a Source in one go."""
    labels = evidence_labels(title, text[:LABEL_TEXT_CHARS], publication_types, mesh)
    return {
        "design": labels.design,
        "population": labels.population,
        "diseases": labels.diseases,
        "labels_from": labels.labels_from,
    }


def label_source(source: Source, text: str) -> Source:
    """The source with evidence labels from its MEDLINE fields, else its title and text."""
    fields = label_fields(source.title, text, source.publication_types, source.mesh)
    return replace(source, **fields)
