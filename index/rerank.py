"""The answer scorer's model files, loaded offline: a logistic model over answer signals,
optionally fed by a fine-tuned MiniLM cross-encoder shipped as an ONNX int8 file.

`bala train scorer` (eval/train_scorer.py) writes `index/models/answer-scorer/`: `card.json`
(what it was trained on, the logistic model's coefficients, and - when a cross-encoder is
part of it - that file's name and sha256) and the tokenizer the cross-encoder was trained
with. Nothing is downloaded. A file whose sha256 does not match its card is refused; the
scorer's id (sha256 prefix of the card) is recorded with every answer, and settings naming
another id (`BALA_SCORER_ID`) are refused.

Each (question, sentence) pair is scored on its own, unpadded: int8 dynamic quantization
scales activations by the whole batch (padding included), so a batch of 8 gave a sentence a
score that moved with its neighbours in the batch; one pair per run makes a sentence's score its
own, at about the same cost (demo library warm ask p95 120 vs 114 ms).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from core.settings import onnx_threads

MODEL_DIR = Path(__file__).resolve().parent / "models" / "answer-scorer"
MODEL_FILE = "model.int8.onnx"
CARD_FILE = "card.json"
MAX_TOKENS = 128


class ScorerMismatchError(RuntimeError):
    """The shipped scorer file is missing, damaged, or not the one its card describes."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_int8(model_dir: Path, out_file: Path) -> dict:
    """Export a saved CrossEncoder to ONNX (torch.onnx), quantize its MatMuls to int8."""
    import shutil

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    # safetensors only: a pickled checkpoint (pytorch_model.bin) is refused, never loaded
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), use_safetensors=True
    ).eval()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out_file.with_suffix(".fp32.tmp.onnx")
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: axes for n in names} | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(
        str(fp32),
        str(out_file),
        weight_type=QuantType.QInt8,
        per_channel=True,
        # The embedding tables too (Gather): 59 MB -> ~23 MB, within what a repo may hold.
        op_types_to_quantize=["MatMul", "Gather"],
    )
    fp32.unlink()
    shutil.copy2(model_dir / "tokenizer.json", out_file.parent / "tokenizer.json")
    return {
        "file": out_file.name,
        "sha256": file_sha256(out_file),
        "bytes": out_file.stat().st_size,
    }


def read_card(model_dir: Path = MODEL_DIR) -> dict:
    path = model_dir / CARD_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScorerMismatchError(f"{path}: cannot read the answer scorer's card ({exc})") from exc


class Logistic:
    """P(answers) = sigmoid(intercept + coef . (x - mean) / scale) over named features."""

    def __init__(self, spec: dict):
        self.features = tuple(spec["features"])
        self.coef = np.asarray(spec["coef"], dtype=np.float64)
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.intercept = float(spec["intercept"])

    def predict(self, rows: list[dict]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[float(r[f]) for f in self.features] for r in rows])
        z = self.intercept + ((x - self.mean) / self.scale) @ self.coef
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


class AnswerModel:
    """The shipped answer scorer: its logistic model, its cross-encoder (if any), its id."""

    def __init__(self, model_dir: Path = MODEL_DIR, expected_id: str | None = None):
        card_path = model_dir / CARD_FILE
        card = read_card(model_dir)
        self.id = f"answer-scorer@{file_sha256(card_path)[:12]}"
        if expected_id and expected_id != self.id:
            raise ScorerMismatchError(
                f"{card_path}: scorer is {self.id}, settings expect {expected_id}"
            )
        try:
            self.logistic = Logistic(card["logistic"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ScorerMismatchError(f"{card_path}: no usable logistic model ({exc})") from exc
        cross = card.get("cross_encoder")
        self.cross = CrossScorer(model_dir, cross) if cross else None
        self.card = card

    def predict(self, rows: list[dict]) -> np.ndarray:
        """P(answers the question) per candidate's signals."""
        return self.logistic.predict(rows)


class CrossScorer:
    """(question, sentences) -> logits from the shipped ONNX int8 cross-encoder."""

    def __init__(self, model_dir: Path, spec: dict):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = model_dir / spec.get("file", MODEL_FILE)
        if not path.is_file():
            raise ScorerMismatchError(f"{path}: the answer scorer's model file is missing")
        actual = file_sha256(path)
        if actual != spec.get("sha256"):
            raise ScorerMismatchError(
                f"{path}: sha256 {actual[:12]} does not match its card ({spec.get('sha256')})"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = onnx_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        self.tokenizer.no_padding()

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        """One logit per sentence (higher answers better), row-aligned with `sentences`."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        out = np.zeros(len(sentences), dtype=np.float32)
        for i, enc in enumerate(self.tokenizer.encode_batch([(question, s) for s in sentences])):
            ids = np.array([enc.ids], dtype=np.int64)  # one unpadded pair per run (see above)
            feeds = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.array([enc.type_ids], dtype=np.int64),
            }
            out[i] = self.session.run(["logits"], feeds)[0][0, 0]
        return out
