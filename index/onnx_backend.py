"""all-MiniLM-L6-v2 on onnxruntime: exported locally from the bundled weights, nothing downloaded.

The export (torch.onnx, then optionally int8 dynamic quantization) runs once per model files
and is cached under `<onnx_dir>/<model hash>/` (setting `index.onnx_dir`, `BALA_ONNX_DIR`;
default `~/.cache/bala/onnx/`). Encoding sorts
texts by length, pads each batch only to its own longest text, deduplicates identical texts,
mean-pools over the attention mask and L2-normalizes, like sentence-transformers does.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import numpy as np

from core.settings import DEFAULT_ONNX_DIR, onnx_threads
from index.model import bundled_model_path

MAX_TOKENS = 256  # the model's max_seq_length
# Padded tokens per batch: short passages go 64 at a time, long ones ~16 (faster on 2 cores:
# 86 chunks of a 10-page PDF in 1.3 s instead of 1.6 s).
TOKENS_PER_BATCH = 4096
# Attention cells per batch (batch size x longest text squared): at most one full-length
# text's. Long passages then go one or two at a time, which holds onnxruntime's arena at
# ~80 MB instead of ~260 MB (3,072 demo passages) and was no slower (165-205 vs 156-213/s).
CELLS_PER_BATCH = MAX_TOKENS * MAX_TOKENS
# The int8 file name carries its recipe, so a changed recipe is exported afresh.
VARIANTS = {"onnx": "model.fp32.onnx", "onnx-int8": "model.int8-matmul.onnx"}


def _model_hash(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        digest.update((model_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def export_dir(model_dir: Path, root: Path) -> Path:
    return root / _model_hash(model_dir)


def _export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        """Keyword call into the transformer, returning only the token embeddings."""

        def __init__(self):
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir), use_safetensors=True).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    model = Encoder().eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    inputs = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode():
        torch.onnx.export(
            model,
            inputs,
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={n: axes for n in ("input_ids", "attention_mask", "token_type_ids")}
            | {"last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )


def ensure_exported(variant: str, root: Path, model_dir: Path | None = None) -> Path:
    """Path of the ONNX file for `variant` under the cache folder `root`, exporting it first
    if needed (under a file lock)."""
    model_dir = model_dir or bundled_model_path()
    folder = export_dir(model_dir, root)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / VARIANTS[variant]
    if target.is_file():
        return target
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fp32 = folder / VARIANTS["onnx"]
        if not fp32.is_file():
            tmp = folder / "export.tmp.onnx"
            _export_fp32(model_dir, tmp)
            os.replace(tmp, fp32)
        if variant == "onnx-int8" and not target.is_file():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = folder / "int8.tmp.onnx"
            # Weights of the MatMuls only (per channel); the embedding tables stay fp32, which
            # keeps vectors closer to fp32 (min cosine 0.987 vs 0.982) at the same speed.
            quantize_dynamic(
                str(fp32),
                str(tmp),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
            os.replace(tmp, target)
    return target


class OnnxEmbedder:
    """The Embedder protocol on onnxruntime (backend "onnx" fp32 or "onnx-int8")."""

    def __init__(
        self,
        model_id: str,
        batch_size: int = 64,
        variant: str = "onnx",
        onnx_dir: Path = DEFAULT_ONNX_DIR,
    ):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_id, self.batch_size, self.backend = model_id, batch_size, variant
        model_dir = bundled_model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = onnx_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(ensure_exported(variant, onnx_dir, model_dir)),
            options,
            providers=["CPUExecutionProvider"],
        )
        # The last run of each encode() hands the arena's free blocks back to the system:
        # ~350 MB held after a slice of long passages, for the rest of an ingest, otherwise.
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.dim = 384

    def _run(self, encodings, run_options=None) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(["last_hidden_state"], feeds, run_options)[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalized float32 vectors, row-aligned with `texts`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        encodings = self.tokenizer.encode_batch(unique)
        # Ties in length keep the order the texts came in: int8 activations are quantized per
        # batch, so a Ray actor gets its texts in row order too (index/ray_ingest.py).
        order = sorted(range(len(unique)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(unique), self.dim), dtype=np.float32)
        lengths = [len(encodings[i].ids) for i in order]
        batches = token_batches(order, lengths, self.batch_size, TOKENS_PER_BATCH, CELLS_PER_BATCH)
        for n, rows in enumerate(batches, start=1):
            last = self._shrink if n == len(batches) else None
            vectors[rows] = self._run([encodings[i] for i in rows], last)
        index = {text: i for i, text in enumerate(unique)}
        return vectors[[index[t] for t in texts]]


def token_batches(
    order: list[int],
    lengths: list[int],
    max_items: int,
    max_tokens: int,
    max_cells: int | None = None,
) -> list[list[int]]:
    """Consecutive batches of `order` (sorted by length) with at most `max_items` texts, at
    most `max_tokens` padded tokens (batch size x its longest text) and at most `max_cells`
    attention cells (batch size x longest squared), never empty."""
    batches: list[list[int]] = []
    current: list[int] = []
    for item, length in zip(order, lengths):
        size = len(current) + 1
        full = len(current) == max_items or size * length > max_tokens
        if current and (full or (max_cells is not None and size * length * length > max_cells)):
            batches.append(current)
            current = []
        current.append(item)
    if current:
        batches.append(current)
    return batches
