"""`bala train encoder` (the bi-encoder experiment): its pairs never come from the reported
split, and a trained folder is measured beside the bundled encoder by `bala bench bioasq`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.train_encoder import folded, training_pairs

DOC = "http://www.ncbi.nlm.nih.gov/pubmed/"


def _question(qid: str, body: str, snippets: list[tuple[str, str]]) -> dict:
    return {
        "id": qid,
        "body": body,
        "type": "summary",
        "snippets": [{"text": text, "document": DOC + pmid} for pmid, text in snippets],
    }


def _write(path, questions: list[dict]):
    path.write_text(json.dumps({"questions": questions}), encoding="utf-8")
    return path


@pytest.fixture()
def golden(tmp_path):
    """A 7B file (one question repeated, one that 11B asks again) and an 11B file."""
    dev = _write(
        tmp_path / "7B1_golden.json",
        [
            _question("a", "What does blinatumomab target?", [("1", "Blinatumomab targets CD19.")]),
            _question("a2", "what does Blinatumomab target", [("2", "A second copy.")]),
            _question("b", "Is CD22 on B-ALL blasts?", [("3", s) for s in "ABCDEFGHIJ"]),
            _question("c", "Which gene is fused in Ph+ ALL?", [("4", "BCR-ABL1 is fused.")]),
        ],
    )
    report = _write(
        tmp_path / "11B1_golden.json",
        [_question("r", "WHICH gene is fused in Ph+ ALL??", [("5", "Report-only snippet.")])],
    )
    return [dev, report]


def test_pairs_come_from_the_development_files_only(golden):
    pairs, counts = training_pairs(golden, per_question=3, seed=0)
    texts = {s for _, s in pairs}
    assert "Report-only snippet." not in texts
    assert "BCR-ABL1 is fused." not in texts  # its question is asked again in 11B
    assert counts["left_out_as_report_questions"] == 1
    assert "A second copy." not in texts  # the same question twice is used once
    assert counts["questions"] == 2 and counts["files"] == ["7B1_golden.json"]
    by_question = [q for q, _ in pairs]
    assert by_question.count("Is CD22 on B-ALL blasts?") == 3  # per_question caps
    assert training_pairs(golden, 3, seed=0)[0] == pairs  # seeded
    assert folded("Is  CD22, on B-ALL?") == folded("is cd22 on b all")


def test_a_trained_encoder_is_benched_beside_the_bundled_one(golden, tmp_path):
    from eval.bench_bioasq import dir_encoder, run_bioasq_bench
    from eval.train_encoder import run_encoder_training
    from index.model import bundled_model_path

    questions = [
        _question(
            f"q{i}", f"Which marker number {i} is lost at relapse?", [(str(i), f"Marker {i}.")]
        )
        for i in range(40)
    ]
    train = _write(tmp_path / "8B1_golden.json", questions)
    out = tmp_path / "encoder"
    card = run_encoder_training([train, golden[1]], out, per_question=1, max_steps=3)
    assert card["trained_on"]["pairs"] == 40 and (out / "card.json").exists()

    tuned, bundled = dir_encoder(out), dir_encoder(bundled_model_path())
    text = ["CD19-negative relapse after CAR T cells"]
    assert tuned.encode(text).shape == (1, 384)
    assert np.isclose(np.linalg.norm(tuned.encode(text)), 1.0, atol=1e-5)
    assert not np.allclose(tuned.encode(text), bundled.encode(text), atol=1e-4)  # it learnt

    result = run_bioasq_bench(
        golden[:1], golden[:1], cache_path=tmp_path / "cache.sqlite", encoder_dir=out
    )
    names = set(result["retrievers"])
    assert {"bm25", "dense", "hybrid", "dense+encoder", "hybrid+encoder"} <= names
    assert 0.0 <= result["retrievers"]["hybrid+encoder"]["ndcg@10"] <= 1.0
    assert result["encoder"]["card"]["trained_on"]["pairs"] == 40


def test_a_folder_that_is_no_encoder_is_refused_with_its_name(tmp_path):
    from eval.bench_bioasq import encoder_problem

    assert "modules.json is missing" in encoder_problem(tmp_path)
    (tmp_path / "modules.json").write_text("[]")
    problem = encoder_problem(tmp_path)
    assert str(tmp_path) in problem and "model.safetensors is missing" in problem
    from index.model import bundled_model_path

    assert encoder_problem(bundled_model_path()) is None
