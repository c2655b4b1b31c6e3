"""Reference lists and in-text citations from stored text: tiny inline texts, exact results,
and the shared journal-style PDFs against their truth."""

from __future__ import annotations

import json

import pytest

from core.types import Document, Source
from ingest.citation_marks import expand, find_citations, sentence_spans, strip_marks
from ingest.references import (
    clean_entry_text,
    extract_references,
    parse_reference,
    with_references,
)

REFS = """References
1. Maude SL, Laetsch TW, Buechner J, et al. Tisagenlecleucel in children and young adults
with B-cell lymphoblastic leukemia. N Engl J Med. 2018;378(5):439-448. 2. Kantarjian H,
Stein A, Gökbuget N, et al. Blinatumomab versus chemotherapy for advanced acute lympho-
blastic leukemia. N Engl J Med. 2017;376(9):836-847.
3. Orlando EJ, Han X, Tribouley C, et al. Genetic mechanisms of target antigen loss in CAR19
therapy of acute lymphoblastic leukemia. Nat Med. 2018;24(10):1504-1506. doi:10.1038/s41591-018-0146-z

4. Pan J, Yang JF, Deng BP, et al. High efficacy and safety of low-dose CD19-directed CAR-T
cell therapy in 51 refractory or relapsed B acute lymphoblastic leukemia patients. Leukemia.
2017;31(12):2587-2593. PMID: 28490811
"""


def _refs_text(body: str) -> str:
    return body + "\n" + REFS


def test_entries_run_over_lines_and_pages_with_numbers_and_fields():
    refs = extract_references(_refs_text("Intro text."))
    assert [r.n for r in refs] == [1, 2, 3, 4]
    assert refs[1].text == (
        "Kantarjian H, Stein A, Gökbuget N, et al. Blinatumomab versus chemotherapy for "
        "advanced acute lymphoblastic leukemia. N Engl J Med. 2017;376(9):836-847."
    )
    first = refs[0]
    assert first.authors == ("Maude SL", "Laetsch TW", "Buechner J")
    assert first.title.startswith("Tisagenlecleucel in children") and first.year == 2018
    assert (first.journal, first.volume, first.pages) == ("N Engl J Med", "378", "439-448")
    assert refs[2].doi == "10.1038/s41591-018-0146-z"
    assert refs[3].pmid == "28490811" and refs[3].journal == "Leukemia"


def test_line_end_hyphens_rejoin_unless_the_word_is_hyphenated_elsewhere():
    assert clean_entry_text("1. My-\ncobacterium and Serveau-\nAvesque C") == (
        "Mycobacterium and Serveau-Avesque C"
    )
    known = frozenset({"long-term"})
    assert clean_entry_text("2. long-\nterm survival", known) == "long-term survival"


def test_plos_style_entry_fields():
    ref = parse_reference(
        15,
        "Dedieu L, Serveau-Avesque C, Kremer L, Canaan S (2012) Mycobacterial Lipolytic "
        "Enzymes: a Gold Mine for Tuberculosis Research. Biochimie in press.",
    )
    assert ref.authors[0] == "Dedieu L" and ref.year == 2012
    assert ref.title == "Mycobacterial Lipolytic Enzymes: a Gold Mine for Tuberculosis Research"


def test_no_reference_heading_means_no_references():
    doc = Document(Source("x"), "A text citing nothing1. Really.")
    assert with_references(doc) is doc


@pytest.mark.parametrize(
    ("printed", "numbers"),
    [("1-3", (1, 2, 3)), ("4,7-9", (4, 7, 8, 9)), ("4–7", (4, 5, 6, 7)), ("3,12", (3, 12))],
)
def test_ranges_expand(printed, numbers):
    assert expand(printed, 20) == numbers


def test_impossible_lists_are_not_citations():
    assert expand("0", 20) is None and expand("21", 20) is None and expand("9-4", 20) is None


def _cite(body: str, n_refs: int = 20):
    return find_citations(body, n_refs, len(body))


def _pairs(body: str, n_refs: int = 20):
    return [(body[c.start : c.end], c.numbers) for c in _cite(body, n_refs)]


def test_blood_superscripts_after_the_full_stop_with_ranges():
    body = (
        "CAR T cells induce remission.1-3 Relapse is frequent,4 and antigen loss follows."
        "5,7-9 Lineage switch is rare.6"
    )
    assert _pairs(body) == [
        ("CAR T cells induce remission.1-3", (1, 2, 3)),
        ("Relapse is frequent,4 and antigen loss follows.5,7-9", (4,)),
        ("Relapse is frequent,4 and antigen loss follows.5,7-9", (5, 7, 8, 9)),
        ("Lineage switch is rare.6", (6,)),
    ]


def test_superscripts_glued_to_words_and_brackets():
    body = "It was stored during the infection process1,2,3 and in vitro4. LipY (Rv3097c)5,6 acts."
    cits = _cite(body)
    assert [c.numbers for c in cits] == [(1, 2, 3), (4,), (5, 6)]
    marks = [body[c.marker_start : c.marker_end] for c in cits]
    assert marks == ["1,2,3", "4", "5,6"]


def test_digits_of_names_are_not_citations():
    body = (
        "CD19 CAR T cells target CD19. Loss of CD19 occurs1. Plasma T4 fell, and T4 was low "
        "in plasma T42. Strain mc26030 grew. The strain mc260303 was used. In 2010 we saw it4."
    )
    cits = _cite(body)
    assert [c.numbers for c in cits] == [(1,), (2,), (3,), (4,)]
    assert [body[c.marker_start : c.marker_end] for c in cits] == ["1", "2", "3", "4"]


def test_bracketed_citations_and_display_without_marks():
    body = "Epidemics hit humans [4–7]. The virus [3,12] is endemic [1]. Zones [3H] differ."
    cits = _cite(body)
    assert [c.numbers for c in cits] == [(4, 5, 6, 7), (3, 12), (1,)]
    second = cits[1]
    marks = [(c.marker_start, c.marker_end) for c in cits if c.start == second.start]
    assert strip_marks(body, second.start, second.end, marks) == "The virus is endemic."
    assert body[second.start : second.end] == "The virus [3,12] is endemic [1]."


def test_sentences_keep_page_joins_and_end_at_paragraphs():
    text = "A claim about the N-terminal\n\nregion holds2.\nHeading\nNext one."
    spans = [text[s:e] for s, e in sentence_spans(text, 0, len(text))]
    assert spans == ["A claim about the N-terminal\n\nregion holds2.", "Heading", "Next one."]


def test_shared_pdfs_meet_the_targets(tmp_path):
    from tests.conftest import shared_path

    folder = shared_path("bench", "references")
    from eval.bench_refs import bench_pdfs, pdf_document

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    docs = {name: pdf_document(folder / name) for name in truth}
    result = bench_pdfs(folder, docs)
    assert result["references_exact_rate"] >= 0.95
    assert result["citations"]["precision"] >= 0.95 and result["citations"]["recall"] >= 0.90
    for doc in docs.values():  # every citation's sentence is a slice holding its mark
        for c in doc.citations:
            assert c.start <= c.marker_start < c.marker_end <= c.end
