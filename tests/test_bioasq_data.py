"""BioASQ golden-file loader on tiny inline files and on the shared benchmark."""

from __future__ import annotations

import copy
import json
from hashlib import sha256
from pathlib import Path

import pytest

from eval.bioasq_data import (
    DEFAULT_DIR,
    doc_qrels,
    golden_files,
    load_bioasq,
    load_bioasq_full,
    pmid_of,
    snippet_doc_id,
    subset,
    to_doc_run,
)
from eval.metrics import recall_at_k

URL = "http://www.ncbi.nlm.nih.gov/pubmed/"


def _snip(pmid: str, text: str) -> dict:
    return {
        "text": text,
        "document": URL + pmid,
        "beginSection": "abstract",
        "offsetInBeginSection": 0,
        "endSection": "abstract",
        "offsetInEndSection": len(text),
    }


FILE_A = {
    "questions": [
        {
            "id": "q1",
            "body": "What does MEF2C do?",
            "type": "summary",
            "documents": [URL + "111", URL + "222"],
            "snippets": [
                _snip("111", "MEF2C is a factor."),
                _snip("111", "  MEF2C is a factor.\n"),  # same after strip
                _snip("222", "MEF2C is a factor."),  # same text, other pmid
            ],
        },
        {
            "id": "q2",
            "body": "Is X a gene?",
            "type": "yesno",
            "documents": [URL + "333"],
            "snippets": [_snip("333", "X is a gene."), _snip("111", "MEF2C is a factor.")],
        },
    ]
}
FILE_B = {
    "questions": [
        {"id": "q2", "body": "duplicate id, dropped", "snippets": [_snip("444", "Other.")]},
        {"id": "q3", "body": "Only outside the corpus?", "snippets": [_snip("555", "Far.")]},
    ]
}


@pytest.fixture()
def golden(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "1B1_golden.json", tmp_path / "1B2_golden.json"
    a.write_text(json.dumps(FILE_A), encoding="utf-8")
    b.write_text(json.dumps(FILE_B), encoding="utf-8")
    return a, b


def test_doc_id_is_stable_and_strips() -> None:
    digest = sha256(b"MEF2C is a factor.").hexdigest()[:12]
    assert snippet_doc_id("111", " MEF2C is a factor. ") == f"111:{digest}"
    assert pmid_of(URL + "34022131") == "34022131"
    with pytest.raises(ValueError):
        pmid_of("http://example.org/no-id")


def test_load_tiny(golden: tuple[Path, Path]) -> None:
    a, b = golden
    data = load_bioasq_full([a], [a, b])
    d111 = snippet_doc_id("111", "MEF2C is a factor.")
    d222 = snippet_doc_id("222", "MEF2C is a factor.")
    d333 = snippet_doc_id("333", "X is a gene.")
    assert data.corpus == {
        d111: {"title": "", "text": "MEF2C is a factor.", "pmid": "111"},
        d222: {"title": "", "text": "MEF2C is a factor.", "pmid": "222"},
        d333: {"title": "", "text": "X is a gene.", "pmid": "333"},
    }
    assert data.queries == {
        "q1": "What does MEF2C do?",
        "q2": "Is X a gene?",
        "q3": "Only outside the corpus?",
    }
    assert data.qrels == {"q1": {d111: 1, d222: 1}, "q2": {d333: 1, d111: 1}}
    s = data.stats
    assert (s.snippets, s.unique_docs, s.unique_pmids) == (5, 3, 3)
    assert (s.questions, s.unique_questions, s.duplicate_questions) == (4, 3, 1)
    assert s.questions_without_qrels == 1
    assert load_bioasq([a], [a, b]) == (data.corpus, data.queries, data.qrels)


def test_corpus_union_of_files(golden: tuple[Path, Path]) -> None:
    a, b = golden
    corpus, _, qrels = load_bioasq([a, b], [b])
    assert len(corpus) == 5  # 3 from A + 2 from B
    assert set(qrels) == {"q2", "q3"}
    assert list(qrels["q2"]) == [snippet_doc_id("444", "Other.")]


def test_doc_level_lifting(golden: tuple[Path, Path]) -> None:
    a, _ = golden
    corpus, _, qrels = load_bioasq([a], [a])
    d111 = snippet_doc_id("111", "MEF2C is a factor.")
    d222 = snippet_doc_id("222", "MEF2C is a factor.")
    d333 = snippet_doc_id("333", "X is a gene.")
    assert doc_qrels(qrels, corpus) == {"q1": {"111": 1, "222": 1}, "q2": {"333": 1, "111": 1}}
    run = {"q1": {d111: 0.2, d222: 0.9, "999:abc": 0.5}, "q2": {d333: 0.1}}
    run0, qrels0 = copy.deepcopy(run), copy.deepcopy(qrels)
    doc_run = to_doc_run(run, corpus)
    assert doc_run == {"q1": {"111": 0.2, "222": 0.9, "999": 0.5}, "q2": {"333": 0.1}}
    # q1 top 2 = 222, 999 -> 1/2 of {111, 222}; q2 = 333 -> 1/2 of {333, 111}
    assert recall_at_k(doc_qrels(qrels, corpus), doc_run, 2) == pytest.approx(0.5)
    assert recall_at_k(doc_qrels(qrels, corpus), doc_run, 3) == pytest.approx(0.75)
    assert run == run0 and qrels == qrels0


def test_doc_run_takes_max_score_per_pmid() -> None:
    corpus = {
        "1:a": {"title": "", "text": "x", "pmid": "1"},
        "1:b": {"title": "", "text": "y", "pmid": "1"},
    }
    assert to_doc_run({"q": {"1:a": 0.3, "1:b": 0.8}}, corpus) == {"q": {"1": 0.8}}
    assert doc_qrels({"q": {"1:a": 1, "1:b": 2}}, corpus) == {"q": {"1": 2}}


def test_subset_is_deterministic() -> None:
    queries = {f"q{i:03d}": f"body {i}" for i in range(50)}
    qrels = {q: {"d": 1} for q in queries if q != "q007"}
    q1, r1 = subset(queries, qrels, 10, seed=0)
    q2, r2 = subset(dict(reversed(queries.items())), qrels, 10, seed=0)
    assert q1 == q2 and r1 == r2 and len(q1) == 10
    assert list(q1) == sorted(q1) and set(r1) == set(q1)
    assert "q007" not in subset(queries, qrels, 100)[0]
    assert len(subset(queries, qrels, 100)[0]) == 49
    assert subset(queries, qrels, 10, seed=1)[0] != q1


@pytest.mark.skipif(
    not golden_files(DEFAULT_DIR),
    reason=f"shared BioASQ golden files not found under {DEFAULT_DIR}",
)
def test_real_bioasq_counts() -> None:
    files = golden_files(DEFAULT_DIR)
    assert len(files) == 25
    data = load_bioasq_full(files, files)
    s = data.stats
    assert s.questions == 2310
    assert s.duplicate_questions == 0 and s.unique_questions == 2310
    assert s.snippets == 21998
    assert s.unique_docs == 20767
    assert s.unique_pmids == 13449
    assert s.questions_without_qrels == 0
    assert len(data.qrels) == 2310
    sub_q, sub_r = subset(data.queries, data.qrels, 100, seed=0)
    assert len(sub_q) == 100 and set(sub_r) == set(sub_q)


def test_pad_corpus_adds_marked_unjudged_replicas_to_the_size_asked():
    from eval.bench_bioasq import pad_corpus

    corpus = {
        "b": {"title": "", "text": "beta", "pmid": "2"},
        "a": {"title": "", "text": "alpha", "pmid": "1"},
    }
    padded = pad_corpus(corpus, 5)
    assert len(padded) == 5 and {k: padded[k] for k in corpus} == corpus
    assert padded["a#r1"] == {"title": "", "text": "alpha (replicate 1)", "pmid": "1r1"}
    assert padded["b#r1"]["text"] == "beta (replicate 1)"
    assert padded["a#r2"]["pmid"] == "1r2"
    assert pad_corpus(corpus, 1) == corpus


def test_a_golden_file_that_cannot_be_read_is_named_in_a_value_error(tmp_path):
    from eval.bioasq_data import load_bioasq

    bad = tmp_path / "10B1_golden.json"
    bad.write_text('{"questions": ', encoding="utf-8")
    with pytest.raises(ValueError, match="10B1_golden.json: not JSON"):
        load_bioasq([bad], [bad])
    with pytest.raises(ValueError, match="missing.json: cannot read it"):
        load_bioasq([tmp_path / "missing.json"], [])
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a BioASQ golden file"):
        load_bioasq([bad], [bad])
