"""The shipped answer model: loaded offline from its card, a mismatch refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.rerank import MODEL_DIR, AnswerModel, Logistic, ScorerMismatchError

SPEC = {"features": ["a", "b"], "coef": [2.0, -1.0], "intercept": 0.0, "mean": [0, 0],
        "scale": [1, 1]}  # fmt: skip


def _card(tmp_path, **extra):
    (tmp_path / "card.json").write_text(json.dumps({"logistic": SPEC, **extra}), "utf-8")
    return tmp_path


def test_logistic_probabilities():
    p = Logistic(SPEC).predict([{"a": 1, "b": 0}, {"a": 0, "b": 0}, {"a": 0, "b": 3}])
    assert p[0] > p[1] == 0.5 > p[2]


def test_a_model_is_identified_by_its_card_and_another_id_is_refused(tmp_path):
    model = AnswerModel(_card(tmp_path))
    assert model.id.startswith("answer-scorer@") and model.cross is None
    assert AnswerModel(tmp_path, expected_id=model.id).id == model.id
    with pytest.raises(ScorerMismatchError, match="settings expect"):
        AnswerModel(tmp_path, expected_id="answer-scorer@000000000000")


def test_a_damaged_or_missing_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(ScorerMismatchError, match="card.json"):
        AnswerModel(tmp_path)  # no card
    (tmp_path / "card.json").write_text("{not json", "utf-8")
    with pytest.raises(ScorerMismatchError, match="card.json"):
        AnswerModel(tmp_path)
    _card(tmp_path, cross_encoder={"file": "model.int8.onnx", "sha256": "0" * 64})
    with pytest.raises(ScorerMismatchError, match="missing"):
        AnswerModel(tmp_path)
    (tmp_path / "model.int8.onnx").write_bytes(b"not the trained model")
    with pytest.raises(ScorerMismatchError, match="does not match its card"):
        AnswerModel(tmp_path)


def test_the_shipped_model_loads_offline():
    model = AnswerModel(MODEL_DIR)
    assert model.card["never_used"].startswith("BioASQ 11B")
    assert len(model.logistic.features) >= 10


def test_the_shipped_cross_encoder_is_the_file_its_card_names_and_reads_the_pair():
    """The shipped ONNX int8 cross-encoder: checked against its card, and it prefers the
    sentence that answers over one that restates the question or is off topic."""
    model = AnswerModel(MODEL_DIR)
    if model.card.get("cross_encoder") is None:
        pytest.skip("the shipped answer scorer has no cross-encoder")
    assert "ce" in model.logistic.features and model.cross is not None
    question = "Which factor is inhibited by milvexian?"
    sentences = [
        "Milvexian is a small molecule, active-site inhibitor of factor XIa (FXIa).",
        "Which factor is inhibited by milvexian?",
        "Tisagenlecleucel was approved for children with relapsed B-ALL.",
    ]
    logits = model.cross.score(question, sentences)
    assert logits.shape == (3,) and logits[0] > max(logits[1:])
    again = model.cross.score(question, list(reversed(sentences)))  # batching keeps rows
    assert np.allclose(again[::-1], logits, atol=1e-4)


def test_a_cross_encoder_trained_a_few_steps_exports_and_scores_as_shipped(tmp_path):
    """`bala train scorer --cross-encoder`'s path end to end on a tiny set: fine-tune from the
    bundled weights, export to ONNX int8, load it as the engine does (sha checked), score."""
    from eval.train_scorer import train_cross_encoder
    from index.rerank import CrossScorer, export_int8

    q = "Which antigen does blinatumomab target?"
    pairs = [(q, "Blinatumomab targets CD19 on B cells.", 1.0), (q, q, 0.0)] * 8
    model_dir = train_cross_encoder(pairs, tmp_path / "work", max_steps=2, batch_size=8)
    info = export_int8(model_dir, tmp_path / "model" / "model.int8.onnx")
    assert (tmp_path / "model" / "tokenizer.json").exists() and info["bytes"] > 1_000_000
    scorer = CrossScorer(tmp_path / "model", info)
    logits = scorer.score(q, ["Blinatumomab targets CD19 on B cells.", "Unrelated text."])
    assert logits.shape == (2,) and np.isfinite(logits).all()
    with pytest.raises(ScorerMismatchError, match="does not match"):
        CrossScorer(tmp_path / "model", {**info, "sha256": "0" * 64})
