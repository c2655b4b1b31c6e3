"""The shipped answer model: loaded offline from its card, a mismatch refused."""

from __future__ import annotations

import json

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
