"""Identifiers: one normalization and one link rule for every layer."""

from core.ids import (
    best_link,
    doi_url,
    dois_in,
    make_source_id,
    normalize_doi,
    normalize_pmcid,
    parse_identifier,
    pmc_url,
    pubmed_url,
)


def test_dois_are_normalized_from_urls_prefixes_and_running_text():
    assert normalize_doi("https://doi.org/10.1182/BLOOD.2024024517.") == "10.1182/blood.2024024517"
    assert normalize_doi("doi: 10.1000/xyz123)") == "10.1000/xyz123"
    text = "Blood. 2025;145(1):64-74. doi:10.1182/blood.2024024517. See also 10.1056/NEJMoa1709866,"
    assert dois_in(text) == {"10.1182/blood.2024024517", "10.1056/nejmoa1709866"}
    assert make_source_id(doi="https://doi.org/10.1/A", pmid="5") == "doi:10.1/a"
    assert make_source_id(pmid=" 29247018 ") == "pmid:29247018"
    assert make_source_id(text="x").startswith("sha256:") and len(make_source_id(text="x")) == 23


def test_links_are_built_only_from_well_formed_identifiers():
    assert doi_url("10.1182/blood.2024024517") == "https://doi.org/10.1182/blood.2024024517"
    assert doi_url("javascript:alert(1)") is None and doi_url("10.1/a b") is None
    assert doi_url("10.1000/a<b>") == "https://doi.org/10.1000/a%3Cb%3E"
    assert pubmed_url("29247018") == "https://pubmed.ncbi.nlm.nih.gov/29247018/"
    assert pubmed_url("29247018x") is None
    assert normalize_pmcid("pmc123") == "PMC123" and normalize_pmcid("abc") == ""
    assert pmc_url("123") == "https://pmc.ncbi.nlm.nih.gov/articles/PMC123/"
    assert best_link("", "12", "http://x") == "https://pubmed.ncbi.nlm.nih.gov/12/"
    assert best_link("", "", "http://x") == "http://x"


def test_typed_identifiers_are_told_apart_and_normalized():
    assert parse_identifier(" pmid: 029768149 ") == ("pmid", "29768149")
    assert parse_identifier("pmc3460867") == ("pmcid", "PMC3460867")
    assert parse_identifier("pmcid:PMC3460867") == ("pmcid", "PMC3460867")
    assert parse_identifier("https://dx.doi.org/10.1182/Blood.1.") == ("doi", "10.1182/blood.1")
    assert parse_identifier("doi: 10.1000/X") == ("doi", "10.1000/x")
    assert parse_identifier("blood.2024") is None
    assert parse_identifier("1234567890") is None  # PMIDs have at most 9 digits here
