"""`bala train scorer`: fine-tune the answer scorer, a cross-encoder over (question, sentence).

Data (BioASQ, development split only): for each 7B-9B factoid, list and summary question, the
candidate sentences the engine itself would weigh (every sentence of its top retrieved
passages over the 7B-11B snippet library, eval/answers_corpus.py) are labelled:
- factoid/list: 1 when a sentence contains a gold exact answer (any synonym), else 0;
- summary: 1 when it recalls >= 0.25 of the ideal answer's bigrams, 0 when < 0.05 (the rest,
  ambiguous, is left out);
- the question itself, paired with itself, is a 0: restating a question does not answer it.
Questions with no positive or no negative candidate teach nothing and are skipped.

Model: a CrossEncoder (one logit) initialised from the bundled all-MiniLM-L6-v2 weights,
trained with sentence-transformers' CrossEncoderTrainer (binary cross-entropy), three epochs,
all layers, seeded, on 70% of the usable 7B-9B questions. It is exported to ONNX and
int8-quantized (index/rerank.py) - the form that is shipped and evaluated - and its logit on
the other 30% of 7B-9B questions, never seen in its training, is one more signal of the
logistic model fitted there (stacking without leakage). 10B tunes the combination with the
other signals; 11B is never used.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

from eval.answer_metrics import contains_answer, rouge2_recall
from eval.answers_corpus import BenchQuestion

# The engine's signals the model reads (app/engine/scorer.FEATURES; eval/ does not import
# app/). Not the sentence's own cosine (`sent_cos`, `d_sent_cos`): on BioASQ 10B a model
# without it put an answer in the first quote as often (0.518 vs 0.514, 7B-9B sample of 650),
# and embedding every candidate per question was most of `ask`'s time.
BASE_FEATURES = (
    "passage_cos", "overlap", "prior", "echo", "novel", "section", "title", "length", "digits",
    "d_passage_cos", "d_overlap", "d_legacy", "rank1", "first_sent", "sent_pos", "single",
    "new_ents", "new_nums", "q_which", "q_what", "q_how", "q_list", "which_x_ents",
    "list_x_ents",
)  # fmt: skip

SUMMARY_POSITIVE, SUMMARY_NEGATIVE = 0.25, 0.05
MAX_LENGTH = 128  # tokens of question + sentence; longer sentences are truncated
FROZEN_LAYERS = 0  # 4 frozen trained twice as fast but helped half as much (10B: +0.016)
EPOCHS = 3
CE_SHARE = 0.7  # of the usable 7B-9B questions train the cross-encoder; the rest fit the logistic
CE_C = 0.1  # the logistic's regularisation with the cross-encoder's logit (10B: 0.542 vs 0.534)


def label(question: BenchQuestion, sentence: str) -> float | None:
    """1.0 answers, 0.0 does not, None ambiguous (left out of training)."""
    if question.kind in ("factoid", "list"):
        return 1.0 if contains_answer(sentence, question.exact) else 0.0
    if question.kind == "summary" and question.ideal:
        recall = rouge2_recall([sentence], question.ideal)
        if recall >= SUMMARY_POSITIVE:
            return 1.0
        return 0.0 if recall < SUMMARY_NEGATIVE else None
    return None


def usable(question: BenchQuestion, rows: list[dict]) -> list[tuple[dict, float]]:
    """A question's labelled candidates; empty when they lack a positive or a negative."""
    labelled = [(r, label(question, r["text"])) for r in rows]
    labelled = [(r, y) for r, y in labelled if y is not None]
    if not any(y == 1.0 for _, y in labelled) or all(y == 1.0 for _, y in labelled):
        return []
    return labelled


def split_usable(questions, candidates: dict, seed: int = 0, share: float = CE_SHARE):
    """Usable 7B-9B questions, seeded, cut in two: (cross-encoder part, logistic part)."""
    pool = [q for q in questions if q.split == "train" and usable(q, candidates.get(q.qid, []))]
    random.Random(seed).shuffle(pool)
    cut = int(share * len(pool))
    return pool[:cut], pool[cut:]


def build_pairs(
    questions: list[BenchQuestion], candidates: dict, max_pairs: int | None = None, seed=0
) -> list[tuple[str, str, float]]:
    """(question, sentence, label) pairs, shuffled with `seed`, at most max_pairs.

    `candidates` maps a question id to its candidates as the engine scores them; the
    question paired with itself is a 0: restating a question does not answer it.
    """
    pairs = []
    for q in questions:
        labelled = usable(q, candidates.get(q.qid, []))
        if not labelled:
            continue
        texts = dict.fromkeys((r["text"], y) for r, y in labelled)
        pairs.extend((q.body, t, y) for t, y in texts)
        pairs.append((q.body, q.body, 0.0))
    random.Random(seed).shuffle(pairs)
    return pairs[:max_pairs] if max_pairs else pairs


def _init_dir(work: Path) -> Path:
    """The bundled bi-encoder's transformer files without modules.json, for a CrossEncoder."""
    from index.embed import bundled_model_path

    src, dst = bundled_model_path(), work / "init"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    return dst


def _freeze(transformer, layers: int) -> None:
    """The embeddings and the first `layers` layers stay as bundled (less backward pass)."""
    bert = transformer.base_model
    for p in bert.embeddings.parameters():
        p.requires_grad = False
    for layer in bert.encoder.layer[:layers]:
        for p in layer.parameters():
            p.requires_grad = False


def train_cross_encoder(
    pairs, work: Path, seed: int = 0, epochs: int = EPOCHS, batch_size=16, max_steps: int = -1
) -> Path:
    """Fine-tune with CrossEncoderTrainer; returns the saved model directory.
    `max_steps` > 0 stops early (the tests train a few steps)."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    torch.manual_seed(seed)
    model = CrossEncoder(
        str(_init_dir(work)),
        num_labels=1,
        max_length=MAX_LENGTH,
        device="cpu",
        model_kwargs={"use_safetensors": True},
    )
    _freeze(model.model, FROZEN_LAYERS)
    data = Dataset.from_dict(
        {"q": [p[0] for p in pairs], "s": [p[1] for p in pairs], "label": [p[2] for p in pairs]}
    )
    args = CrossEncoderTrainingArguments(
        output_dir=str(work / "checkpoints"),
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        learning_rate=3e-5,
        warmup_ratio=0.1,
        seed=seed,
        data_seed=seed,
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model)
    )
    trainer.train()
    out = work / "model"
    model.save_pretrained(str(out))
    return out


def sample_train(questions: list[BenchQuestion], n: int | None, seed: int = 0) -> list:
    """A seeded sample of n train-split factoid/list/summary questions (all when n is None)."""
    pool = [q for q in questions if q.split == "train" and q.kind in ("factoid", "list", "summary")]
    if n is None or n >= len(pool):
        return pool
    return random.Random(seed).sample(pool, n)


def labelled_rows(questions: list[BenchQuestion], candidates: dict):
    """(feature rows, labels, question count) of the questions' usable candidates."""
    rows, labels, used = [], [], 0
    for q in questions:
        labelled = usable(q, candidates.get(q.qid, []))
        if not labelled:
            continue
        used += 1
        rows.extend(r for r, _ in labelled)
        labels.extend(y for _, y in labelled)
    return rows, labels, used


def fit_logistic(rows: list[dict], labels: list[float], names: tuple[str, ...], c=1.0) -> dict:
    """Standardized logistic regression (sklearn, lbfgs; deterministic) as a JSON spec."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[float(r[f]) for f in names] for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, np.array(labels))
    return {
        "features": list(names),
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
    }


def run_training(
    questions: list[BenchQuestion],
    candidates: dict,
    out_dir: Path,
    cross_encoder: dict | None = None,
    seed: int = 0,
) -> dict:
    """Fit the answer model on `questions`' candidates; write `card.json` into `out_dir`.

    `candidates` maps a question id to its candidates' signals as the engine computes them
    (app/engine/scorer.py); with `cross_encoder` ({"file", "sha256", ...} of an exported model
    in `out_dir`), each row also holds that model's logit, `ce`, one more feature.
    """
    started = time.perf_counter()
    rows, labels, used = labelled_rows(questions, candidates)
    names = BASE_FEATURES + (("ce",) if cross_encoder else ())
    spec = fit_logistic(rows, labels, names, c=CE_C if cross_encoder else 1.0)
    card = {
        "name": "bala answer scorer",
        "trained_on": "BioASQ 7B-9B factoid/list/summary candidates (eval/train_scorer.py)",
        "tuned_on": "BioASQ 10B (quote bar, margin, abstention bars)",
        "never_used": "BioASQ 11B (the reported split)",
        "questions": used,
        "candidates": len(rows),
        "positives": int(sum(labels)),
        "seed": seed,
        "logistic": spec,
        "cross_encoder": cross_encoder,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    card["fit_s"] = round(time.perf_counter() - started, 1)
    return card
