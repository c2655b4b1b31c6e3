"""PubMed/MEDLINE XML: the shared sample files, structured abstracts, deletions, bad files."""

from __future__ import annotations

import gzip

import pytest
from conftest import shared_path

from core.settings import IngestSettings
from ingest.errors import IngestError
from ingest.loaders import load_file
from ingest.medline import iter_medline, load_medline

CFG = IngestSettings()


def _load(path):
    return load_file(path, "sha", CFG)


def test_all_604_baseline_records_have_title_journal_and_year():
    path = shared_path("fixtures", "pubmed", "medline16n0902.xml.gz")
    raw = gzip.open(path).read().decode("utf-8")
    result = _load(path)
    assert raw.count("<MedlineCitation ") == 604
    assert len(result.documents) == 604
    complete = [d for d in result.documents if d.source.title and d.source.journal]
    assert len([d for d in complete if d.source.year]) == 604
    assert all(d.source.pmid and d.source.url.endswith(f"/{d.source.pmid}/") for d in complete)
    assert result.deleted_pmids == ("26432306",)  # the file's <DeleteCitation>


def test_baseline_record_fields_and_structured_abstract_sections():
    path = shared_path("fixtures", "pubmed", "medline16n0902.xml.gz")
    doc = next(d for d in _load(path).documents if d.source.pmid == "17942999")
    s = doc.source
    assert s.source_id == "pmid:17942999"
    assert s.title.startswith("Neuroplasticity in the processing of pitch dimensions")
    assert s.authors == ("Chandrasekaran B", "Gandour JT", "Krishnan A")
    assert (s.journal, s.year, s.volume, s.issue, s.pages) == (
        "Restor. Neurol. Neurosci.",
        2007,
        "25",
        "3-4",
        "195-210",
    )
    assert s.publication_types == ("Journal Article", "Research Support, Non-U.S. Gov't")
    assert "Pitch Perception" in s.mesh and s.population == "adult"
    sections = [sec for _, _, sec in doc.fixed_spans]
    assert sections == [
        "title",
        "abstract: PURPOSE",
        "abstract: METHODS",
        "abstract: RESULTS",
        "abstract: CONCLUSIONS",
    ]
    start, end, _ = doc.fixed_spans[2]
    assert doc.text[start:end].startswith("Mismatch negativity (MMN) responses to Mandarin tones")


def test_efetch_record_has_doi_from_pubmed_data_and_trial_design():
    path = shared_path("fixtures", "pubmed", "efetch-29768149.xml")
    (doc,) = _load(path).documents
    s = doc.source
    assert s.source_id == "doi:10.1056/nejmoa1715274" and s.pmid == "29768149"
    assert (s.journal, s.year, s.volume, s.issue, s.pages) == (
        "N Engl J Med",
        2018,
        "378",
        "20",
        "1865-1876",
    )
    assert s.title == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert s.design == "phase-3-trial" and s.labels_from == "medline"
    assert "Randomized Controlled Trial" in s.publication_types
    assert {sec for _, _, sec in doc.fixed_spans} >= {"abstract: METHODS", "abstract: RESULTS"}
    # markup inside an abstract (<sub>) leaves no raw whitespace runs in the stored text
    assert "\t" not in doc.text and "  " not in doc.text


def test_current_format_sample_loads():
    path = shared_path("fixtures", "pubmed", "current-medline-sample.xml.gz")
    docs = _load(path).documents
    assert docs and all(d.source.title and d.source.year for d in docs)
    assert docs[0].source.pages == "61-76" and docs[0].source.kind == "review"


def _citation(pmid: str, title: str, abstract: str = "Some text.") -> str:
    return (
        f"<MedlineCitation><PMID>{pmid}</PMID><Article><Journal><JournalIssue><PubDate>"
        f"<Year>2020</Year></PubDate></JournalIssue><ISOAbbreviation>J Test</ISOAbbreviation>"
        f"</Journal><ArticleTitle>{title}</ArticleTitle><Abstract><AbstractText>{abstract}"
        f"</AbstractText></Abstract></Article></MedlineCitation>"
    )


def test_a_deletion_later_in_a_file_drops_the_record_and_a_later_version_replaces(tmp_path):
    body = (
        _citation("1", "First version")
        + _citation("2", "Deleted one")
        + _citation("1", "Second version")
        + "<DeleteCitation><PMID>2</PMID><PMID>99</PMID></DeleteCitation>"
    )
    path = tmp_path / "update.xml"
    path.write_text(f"<MedlineCitationSet>{body}</MedlineCitationSet>", encoding="utf-8")
    loaded = load_medline(path, "sha", 900, 150)
    assert [d.source.title for d in loaded.documents] == ["Second version"]
    assert set(loaded.deleted_pmids) == {"2", "99"}


def test_malformed_xml_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<PubmedArticleSet>\n<PubmedArticle>\n<Medline", encoding="utf-8")
    with pytest.raises(IngestError, match=r"broken\.xml: malformed XML \(line \d+"):
        _load(path)


def test_damaged_gzip_and_foreign_xml_give_clear_errors(tmp_path):
    damaged = tmp_path / "cut.xml.gz"
    full = gzip.compress(b"<MedlineCitationSet>" + _citation("5", "T").encode() * 50)
    damaged.write_bytes(full[: len(full) // 2])
    with pytest.raises(IngestError, match="cut.xml.gz: (unreadable or damaged|malformed)"):
        list(iter_medline(damaged))
    other = tmp_path / "feed.xml"
    other.write_text("<?xml version='1.0'?><rss><channel/></rss>", encoding="utf-8")
    with pytest.raises(IngestError, match="not PubMed/MEDLINE or JATS XML .*<rss>"):
        _load(other)


def test_bad_xml_fails_alone_and_a_delete_citation_removes_the_indexed_source(
    tmp_path, settings_for
):
    from index.build import ingest_paths
    from index.loaded import open_index

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.xml").write_text(
        "<MedlineCitationSet>"
        + _citation("11", "Blinatumomab in relapsed B-ALL", "Children were treated.")
        + _citation("12", "CAR T cells for B-ALL", "Adults were treated.")
        + "</MedlineCitationSet>",
        encoding="utf-8",
    )
    (lib / "bad.xml").write_text("<MedlineCitationSet><MedlineCitation>", encoding="utf-8")
    settings = settings_for()
    report = ingest_paths([lib], settings)
    assert [p.rsplit("/", 1)[-1] for p, _ in report.failed] == ["bad.xml"]
    assert "malformed XML" in report.failed[0][1]
    loaded = open_index(settings)
    assert set(loaded.store.sources) == {"pmid:11", "pmid:12"}
    assert loaded.store.sources["pmid:11"].diseases == ("B-ALL",)
    loaded.store.close()
    (lib / "update.xml").write_text(
        "<MedlineCitationSet><DeleteCitation><PMID>12</PMID></DeleteCitation></MedlineCitationSet>",
        encoding="utf-8",
    )
    report = ingest_paths([lib], settings)
    assert report.removed == ["pmid:12"]
    loaded = open_index(settings)
    assert set(loaded.store.sources) == {"pmid:11"}
    assert {c.source_id for c in loaded.store.chunks} == {"pmid:11"}
    loaded.store.close()


def test_entities_are_never_expanded_or_fetched(tmp_path):
    doctype = (
        '<!DOCTYPE MedlineCitationSet [<!ENTITY a "AAAAAAAAAA">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY e SYSTEM "file:///etc/passwd">]>'
    )
    path = tmp_path / "entities.xml"
    body = _citation("1", "T &b; &e; end")
    path.write_text(f"{doctype}<MedlineCitationSet>{body}</MedlineCitationSet>", encoding="utf-8")
    (doc,) = load_medline(path, "sha", 900, 150).documents
    assert "AAAA" not in doc.text and "root:" not in doc.text


def test_fallback_fields_of_a_sparse_record(tmp_path):
    """The fields read in one pass over each element's children keep every fallback:
    vernacular title, MedlineTA journal, MedlineDate and ArticleDate years, Start/EndPage,
    invalid authors and DOIs skipped, a collective author, markup and comments ignored."""
    from ingest.medline import parse_citation

    xml = (
        "<MedlineCitation><PMID>7</PMID><Article><Journal><JournalIssue>"
        "<Volume> 12 </Volume><PubDate><MedlineDate>Winter 1998-1999</MedlineDate></PubDate>"
        "</JournalIssue></Journal><VernacularTitle>Titre <i>en</i> français</VernacularTitle>"
        "<Pagination><StartPage>5</StartPage><EndPage>9</EndPage></Pagination>"
        '<ELocationID EIdType="doi" ValidYN="N">10.1/wrong</ELocationID>'
        '<ELocationID EIdType="doi">10.1/RIGHT</ELocationID>'
        '<AuthorList><Author ValidYN="N"><LastName>Gone</LastName></Author><!-- c -->'
        "<Author><LastName>Smith</LastName><Initials>AB</Initials><Suffix>Jr</Suffix></Author>"
        "<Author><CollectiveName>The <b>X</b> Group</CollectiveName></Author></AuthorList>"
        "<PublicationTypeList><!-- c --><PublicationType>Review</PublicationType>"
        "</PublicationTypeList><ArticleDate><Year>2001</Year></ArticleDate></Article>"
        "<MedlineJournalInfo><MedlineTA>J Sparse</MedlineTA></MedlineJournalInfo>"
        "<MeshHeadingList><MeshHeading><DescriptorName>Humans</DescriptorName>"
        "<QualifierName>x</QualifierName></MeshHeading></MeshHeadingList></MedlineCitation>"
    )
    from lxml import etree

    record = parse_citation(etree.fromstring(xml))
    assert (record.pmid, record.title, record.journal) == ("7", "Titre en français", "J Sparse")
    assert (record.year, record.volume, record.pages, record.doi) == (
        1998,
        "12",
        "5-9",
        "10.1/right",
    )
    assert record.authors == ("Smith AB Jr", "The X Group")
    assert record.publication_types == ("Review",) and record.mesh == ("Humans",)
    no_date = xml.replace("<MedlineDate>Winter 1998-1999</MedlineDate>", "")
    assert parse_citation(etree.fromstring(no_date)).year == 2001
