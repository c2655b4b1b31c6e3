"""PMC JATS: every <ref> and every bibliographic <xref> of the six shared articles kept;
citation groups, ranges and sentences on tiny inline articles."""

from __future__ import annotations

import re

import pytest
from conftest import SHARED
from lxml import etree

from ingest.errors import IngestError
from ingest.jats import build_jats, load_jats

ARTICLES = sorted((SHARED / "fixtures" / "jats").glob("*.nxml"))


def _parse(path):
    root = etree.parse(str(path)).getroot()
    return build_jats(root, str(path), "sha", 900, 150)


@pytest.mark.skipif(not ARTICLES, reason=f"no JATS fixtures under {SHARED}")
@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.name)
def test_every_ref_and_bibr_xref_of_the_article_is_kept(path):
    raw = path.read_text(encoding="utf-8")
    raw_refs = re.findall(r'<ref id="([^"]+)"', raw)
    raw_xrefs = [
        re.search(r'rid="([^"]*)"', x).group(1).split()
        for x in re.findall(r"<xref\b[^>]*>", raw)
        if 'ref-type="bibr"' in x
    ]
    doc, kept = _parse(path)
    assert [r.key for r in doc.references] == raw_refs
    assert kept == len(raw_xrefs) and kept > 0
    n_of = {r.key: r.n for r in doc.references}
    cited = {n for c in doc.citations for n in c.numbers}
    assert {n_of[rid] for rids in raw_xrefs for rid in rids} <= cited
    for c in doc.citations:
        assert c.start <= c.marker_start < c.marker_end <= c.end <= len(doc.text)
        assert c.numbers and all(1 <= n <= len(doc.references) for n in c.numbers)
    pmids = len(re.findall(r'<pub-id pub-id-type="pmid">', raw.split("<ref-list")[-1]))
    assert sum(1 for r in doc.references if r.pmid) == pmids
    # provenance: every passage is an exact slice with a section, none of them empty
    assert all(doc.text[s:e].strip() and sec for s, e, sec in doc.fixed_spans)


def test_bmc_article_metadata_sections_and_a_range_citation():
    path = SHARED / "fixtures" / "jats" / "1471-2180-11-174.nxml"
    if not path.exists():
        pytest.skip(f"missing {path}")
    doc, _ = _parse(path)
    s = doc.source
    assert (s.source_id, s.pmid, s.journal, s.year, s.volume, s.pages) == (
        "doi:10.1186/1471-2180-11-174",
        "21810267",
        "BMC Microbiol",
        2011,
        "11",
        "174",
    )
    assert s.authors == ("Dennehy JJ", "Wang IN")
    assert s.title == "Factors influencing lysis time stochasticity in bacteriophage \u03bb"
    first = doc.citations[0]
    assert doc.text[first.marker_start : first.marker_end] == "[1-9]"
    assert first.numbers == tuple(range(1, 10))
    assert doc.text[first.start : first.end].startswith("Some phenotypic variation arises")
    sections = {sec for _, _, sec in doc.fixed_spans}
    assert {"title", "Abstract > Background ¶1", "Results > Table 1"} <= sections
    ref = doc.references[0]
    assert (ref.n, ref.key, ref.pmid, ref.doi, ref.year) == (
        1,
        "B1",
        "16845428",
        "10.1038/nrmicro1460",
        2006,
    )
    assert ref.text.startswith("Avery SV. Microbial cell individuality")


ARTICLE = """<article article-type="research-article"><front><journal-meta>
<journal-id journal-id-type="nlm-ta">Test J</journal-id></journal-meta><article-meta>
<article-id pub-id-type="pmid">123</article-id><title-group><article-title>CD19 CAR T cells
in children with relapsed B-ALL</article-title></title-group>
<pub-date pub-type="epub"><year>2021</year></pub-date></article-meta></front>
<body><sec><title>Introduction</title>
<p>Relapse is common [<xref ref-type="bibr" rid="R1">1</xref>-<xref ref-type="bibr"
rid="R3">3</xref>]. Grouped ids are cited <xref ref-type="bibr" rid="R2 R4">2,4</xref>. A span
inside one mark <xref ref-type="bibr" rid="R1">1-4</xref> and a figure
<fig id="F1"><label>Figure 1</label><caption><p>Survival <xref ref-type="bibr"
rid="R4">[4]</xref>.</p></caption></fig>follows.</p></sec></body>
<back><ref-list><ref id="R1"><label>1</label><mixed-citation>A. One.</mixed-citation></ref>
<ref id="R2"><label>2</label><mixed-citation>B. Two.</mixed-citation></ref>
<ref id="R3"><label>3</label><mixed-citation>C. Three.</mixed-citation></ref>
<ref id="R4"><label>4</label><element-citation><person-group person-group-type="author">
<name><surname>Doe</surname><given-names>Jane A</given-names></name></person-group>
<article-title>Four</article-title><source>Blood</source><year>2020</year>
<volume>1</volume><fpage>2</fpage><lpage>9</lpage><pub-id pub-id-type="doi">10.1/X</pub-id>
</element-citation></ref></ref-list></back></article>"""


def test_citation_groups_ranges_sentences_and_deferred_figures(tmp_path):
    path = tmp_path / "a.nxml"
    path.write_text(ARTICLE, encoding="utf-8")
    doc = load_jats(path, "sha", 900, 150)
    text = doc.text
    marks = [(text[c.marker_start : c.marker_end], c.numbers) for c in doc.citations]
    assert marks == [("[1-3]", (1, 2, 3)), ("2,4", (2, 4)), ("1-4", (1, 2, 3, 4)), ("[4]", (4,))]
    assert text[doc.citations[0].start : doc.citations[0].end] == "Relapse is common [1-3]."
    para = "Introduction ¶1"
    assert [sec for *_, sec in doc.fixed_spans] == ["title", para, "Introduction > Figure 1"]
    s, e, _ = doc.fixed_spans[2]
    assert text[s:e] == "Figure 1. Survival [4]."
    assert doc.references[3].authors == ("Doe JA",)
    assert doc.references[3].text == "Doe JA. Four. Blood. 2020;1:2-9."
    assert doc.source.diseases == ("B-ALL",) and doc.source.population == "pediatric"


def test_malformed_and_non_article_jats_fail_with_the_file_named(tmp_path):
    bad = tmp_path / "bad.nxml"
    bad.write_text("<article><front>", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad\.nxml: malformed XML"):
        load_jats(bad, "sha", 900, 150)
    empty = tmp_path / "empty.nxml"
    empty.write_text("<article><front><article-meta/></front></article>", encoding="utf-8")
    with pytest.raises(IngestError, match="empty.nxml: not usable JATS: no article text"):
        load_jats(empty, "sha", 900, 150)
