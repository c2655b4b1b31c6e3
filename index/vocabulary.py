"""Clinical vocabulary for relapsed B-ALL after immunotherapy: short ↔ long form groups.

Hand-written and reviewed; every form is one in real use in the leukemia / cellular-therapy
literature (no invented abbreviations). Used by `index.normalize` to expand queries.

Conventions, relied on by the normalizer:
- `short[0]` is the form added when a long form is found; `long[0]` when a short form is found.
- Long forms are written in American spelling; British spellings of their words are matched
  through the `spelling` entries (so "acute lymphoblastic leukaemia" is found too).
- Separators: a space or hyphen in a form matches any run of spaces/hyphens in the query
  ("CAR T" matches "CAR-T"); a trailing plural "s" is accepted on every form.
- Case: a form containing three lowercase letters in a row ("blinatumomab", "tisa-cel",
  "Kymriah") matches case-insensitively; any other form is an acronym or symbol ("ALL", "CR",
  "Ph+", "InO", "BiTE") and matches case-sensitively, so "all patients" is not ALL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One concept: short forms (abbreviations, nicknames, brands, codes) ↔ long forms.

    A `spelling` entry pairs British (`short`) and American (`long`) spellings of one word.
    """

    short: tuple[str, ...]
    long: tuple[str, ...]
    spelling: bool = False


def _forms(forms: str | tuple[str, ...]) -> tuple[str, ...]:
    return (forms,) if isinstance(forms, str) else forms


def _e(short: str | tuple[str, ...], long: str | tuple[str, ...]) -> Entry:
    """A concept entry."""
    return Entry(_forms(short), _forms(long))


def _uk(british: str | tuple[str, ...], american: str) -> Entry:
    """A spelling entry: British form(s) ↔ the American one."""
    return Entry(_forms(british), (american,), spelling=True)


# fmt: off
VOCABULARY: tuple[Entry, ...] = (
    # --- Cellular and antibody therapies ---------------------------------------------------
    _e(("CAR T", "CAR T cell"), "chimeric antigen receptor T cell"),
    _e("CAR", "chimeric antigen receptor"),
    _e(("blina", "Blincyto"), "blinatumomab"),
    _e("BiTE", "bispecific T-cell engager"),
    _e(("InO", "INO", "Besponsa"), ("inotuzumab ozogamicin", "inotuzumab")),
    _e(("tisa-cel", "Kymriah", "CTL019"), "tisagenlecleucel"),
    _e(("brexu-cel", "Tecartus", "KTE-X19"), "brexucabtagene autoleucel"),
    _e(("obe-cel", "Aucatzyl", "AUTO1"), "obecabtagene autoleucel"),
    _e(("axi-cel", "Yescarta", "KTE-C19"), "axicabtagene ciloleucel"),
    _e(("liso-cel", "Breyanzi", "JCAR017"), "lisocabtagene maraleucel"),
    _e("TKI", "tyrosine kinase inhibitor"),
    _e("Flu/Cy", "fludarabine/cyclophosphamide"),
    # --- Transplantation -------------------------------------------------------------------
    _e(
        ("allo-HSCT", "alloSCT", "allo-SCT", "alloHSCT", "allo-HCT", "alloHCT"),
        (
            "allogeneic hematopoietic stem cell transplantation",
            "allogeneic hematopoietic cell transplantation",
            "allogeneic stem cell transplantation",
            "allogeneic hematopoietic stem cell transplant",
            "allogeneic hematopoietic cell transplant",
            "allogeneic stem cell transplant",
            "allogeneic transplantation",
            "allogeneic transplant",
        ),
    ),
    _e(
        ("HSCT", "HCT"),
        (
            "hematopoietic stem cell transplantation",
            "hematopoietic cell transplantation",
            "hematopoietic stem cell transplant",
            "hematopoietic cell transplant",
        ),
    ),
    _e("SCT", ("stem cell transplantation", "stem cell transplant")),
    _e(("GVHD", "GvHD"), "graft-versus-host disease"),
    # --- Diseases, subtypes and genetics ---------------------------------------------------
    _e("B-ALL", "B-cell acute lymphoblastic leukemia"),
    _e("BCP-ALL", "B-cell precursor acute lymphoblastic leukemia"),
    _e("T-ALL", "T-cell acute lymphoblastic leukemia"),
    _e("ALL", "acute lymphoblastic leukemia"),
    _e("AML", "acute myeloid leukemia"),
    _e("MPAL", "mixed-phenotype acute leukemia"),
    _e("CLL", "chronic lymphocytic leukemia"),
    _e("DLBCL", "diffuse large B-cell lymphoma"),
    _e(("LS",), ("lineage switch", "lineage switching", "lineage switches")),
    # Antigen escape after CD19-directed therapy: a relapse without CD19 on the blasts.
    _e(("CD19-negative", "CD19neg", "CD19−"), ("CD19 loss", "loss of CD19", "CD19 antigen loss")),
    _e(("CD19+", "CD19pos"), "CD19-positive"),
    _e(("Ph+", "Ph-positive"), ("Philadelphia chromosome-positive", "Philadelphia-positive")),
    _e("Ph-like", ("Philadelphia chromosome-like", "Philadelphia-like")),
    _e(("KMT2A", "KMT2Ar"), ("MLL", "MLLr")),
    _e("AYA", "adolescents and young adults"),
    _e(("r/r", "R/R"), ("relapsed/refractory", "relapsed or refractory")),
    # --- Toxicities ------------------------------------------------------------------------
    _e("CRS", "cytokine release syndrome"),
    _e("ICANS", "immune effector cell-associated neurotoxicity syndrome"),
    _e(
        "IEC-HS",
        "immune effector cell-associated hemophagocytic lymphohistiocytosis-like syndrome",
    ),
    _e("HLH", "hemophagocytic lymphohistiocytosis"),
    _e("BCA", "B-cell aplasia"),
    _e("MAS", "macrophage activation syndrome"),
    # B-cell aplasia after CD19-directed therapy is managed with immunoglobulin replacement.
    _e(("IVIG", "IVIg"), ("intravenous immunoglobulin", "intravenous immune globulin")),
    # --- Response, outcomes and testing ----------------------------------------------------
    _e("MRD", ("measurable residual disease", "minimal residual disease")),
    _e("CR", ("complete remission", "complete response")),
    _e(
        "CRi",
        (
            "complete remission with incomplete hematologic recovery",
            "complete remission with incomplete count recovery",
        ),
    ),
    _e("CRh", "complete remission with partial hematologic recovery"),
    _e("OS", "overall survival"),
    _e("EFS", "event-free survival"),
    _e("RFS", "relapse-free survival"),
    _e("NGS", "next-generation sequencing"),
    _e("MFC", "multiparameter flow cytometry"),
    _e("BM", "bone marrow"),
    _e("PB", "peripheral blood"),
    _e("CNS", "central nervous system"),
    # --- British ↔ American spellings (single words) ----------------------------------------
    _uk("leukaemia", "leukemia"),
    _uk("leukaemic", "leukemic"),
    _uk(("haematopoietic", "haemopoietic"), "hematopoietic"),
    _uk("haematological", "hematological"),
    _uk("haematology", "hematology"),
    _uk("haemophagocytic", "hemophagocytic"),
    _uk("haematologic", "hematologic"),
    _uk("paediatric", "pediatric"),
    _uk("tumour", "tumor"),
)
# fmt: on
