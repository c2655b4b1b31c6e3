"""bala's retriever behind LangChain's BaseRetriever: langchain-tests' standard retriever
suite, plus what a citation needs (provenance, citation metadata, the fused score)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from index.langchain_retriever import BalaRetriever

QUESTION = "CD19-negative relapse after CAR T-cell therapy"
_INDEX: dict[str, Path] = {}

RECORDS = [
    {
        "pmid": "29385370",
        "section": "abstract",
        "text": "Tisagenlecleucel in children and young adults with B-cell lymphoblastic "
        "leukemia produced durable remissions; CD19-negative relapse occurred in some.",
    },
    {
        "pmid": "29768149",
        "section": "abstract",
        "text": "Blinatumomab versus chemotherapy for advanced acute lymphoblastic leukemia "
        "improved overall survival in adults with relapsed or refractory B-ALL.",
    },
    {
        "pmid": "30275568",
        "section": "abstract",
        "text": "Lineage switch to acute myeloid leukemia can follow CD19-directed therapy "
        "in KMT2A-rearranged B-ALL.",
    },
    {
        "pmid": "31204436",
        "section": "abstract",
        "text": "Antigen escape with loss of CD19 epitopes drives relapse after CAR T cells; "
        "CD22-directed CAR T cells can induce remission after CD19-negative relapse.",
    },
    {
        "pmid": "27626279",
        "section": "abstract",
        "text": "Inotuzumab ozogamicin gave higher remission rates than standard therapy in "
        "relapsed or refractory acute lymphoblastic leukemia.",
    },
]


@pytest.fixture(scope="module", autouse=True)
def small_index(tmp_path_factory):
    """A five-passage index with citation metadata, built once for the module."""
    from core.settings import load_settings
    from index.build import ingest_paths

    root = tmp_path_factory.mktemp("langchain")
    lib = root / "lib"
    lib.mkdir()
    (lib / "passages.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS))
    (lib / "review.txt").write_text(
        "Relapse after CD19 CAR T cells is frequent. Antigen escape drives CD19-negative "
        "relapse, and CD22 CAR T cells or inotuzumab are options afterwards.",
        encoding="utf-8",
    )
    (lib / "review.json").write_text(
        json.dumps(
            {
                "title": "How I treat postimmunotherapy relapsed B-ALL",
                "authors": ["Lamble AJ", "Kovach AE", "Shah NN"],
                "journal": "Blood",
                "year": 2025,
                "volume": "145",
                "issue": "1",
                "pages": "64-74",
                "doi": "10.1182/blood.2024024517",
                "kind": "review",
            }
        ),
        encoding="utf-8",
    )
    report = ingest_paths([lib], load_settings(root / "index"))
    assert not report.failed
    _INDEX["dir"] = root / "index"
    yield
    _INDEX.clear()


class TestBalaRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[BalaRetriever]:
        return BalaRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"index_dir": str(_INDEX["dir"]), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION


def test_documents_carry_provenance_citation_and_fused_score():
    retriever = BalaRetriever(index_dir=str(_INDEX["dir"]), k=6)
    try:
        docs = retriever.invoke(QUESTION)
    finally:
        retriever.close()
    assert len(docs) == 6
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    review = next(d for d in docs if d.metadata["source_id"] == "doi:10.1182/blood.2024024517")
    meta = review.metadata
    assert meta["title"] == "How I treat postimmunotherapy relapsed B-ALL"
    assert (meta["journal"], meta["year"], meta["doi"]) == (
        "Blood",
        2025,
        "10.1182/blood.2024024517",
    )
    assert meta["url"] == "https://doi.org/10.1182/blood.2024024517"
    assert meta["authors"][0] == "Lamble AJ" and meta["kind"] == "review"
    stored = (_INDEX["dir"].parent / "lib" / "review.txt").read_text(encoding="utf-8")
    assert stored[meta["start"] : meta["end"]] == review.page_content
    assert review.id == meta["chunk_id"] and meta["build_id"]
    medline = next(d for d in docs if d.metadata["source_id"] == "pmid:31204436")
    assert medline.metadata["pmid"] == "31204436"
    assert medline.metadata["url"] == "https://pubmed.ncbi.nlm.nih.gov/31204436/"
    assert "CD22-directed CAR T cells" in medline.page_content


def test_filters_restrict_the_sources():
    retriever = BalaRetriever(index_dir=str(_INDEX["dir"]), k=5, filters={"kinds": ["review"]})
    try:
        docs = retriever.invoke(QUESTION)
    finally:
        retriever.close()
    assert docs and {d.metadata["source_id"] for d in docs} == {"doi:10.1182/blood.2024024517"}
