"""The ONNX backend agrees with sentence-transformers fp32 and keeps row order."""

from __future__ import annotations

import numpy as np
import pytest

from index.embed import TorchEmbedder
from index.onnx_backend import OnnxEmbedder

TEXTS = [
    "Relapse after CD19 CAR T cells is frequent.",
    "Blinatumomab is a bispecific T-cell engager used in relapsed B-ALL.",
    "Lineage switch to acute myeloid leukemia can follow CD19-directed therapy.",
    "Short.",
    "Relapse after CD19 CAR T cells is frequent.",  # a duplicate, embedded once
    "Minimal residual disease before transplant predicts outcome in acute lymphoblastic "
    "leukemia, and its measurement by flow cytometry or sequencing guides therapy." * 3,
]


@pytest.fixture(scope="module")
def torch_vectors():
    return TorchEmbedder("sentence-transformers/all-MiniLM-L6-v2").encode(TEXTS)


@pytest.mark.parametrize(("variant", "min_cosine"), [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_vectors_match_fp32(tmp_path, monkeypatch, torch_vectors, variant, min_cosine):
    from core.settings import load_settings

    monkeypatch.setenv("BALA_ONNX_DIR", str(tmp_path))
    onnx_dir = load_settings().index.onnx_cache_dir
    assert onnx_dir == tmp_path
    model = "sentence-transformers/all-MiniLM-L6-v2"
    vectors = OnnxEmbedder(model, 2, variant, onnx_dir).encode(TEXTS)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * torch_vectors, axis=1)
    assert cosines.min() >= min_cosine, cosines
    assert np.array_equal(vectors[0], vectors[4])
    assert any(tmp_path.rglob("*.onnx"))  # exported into BALA_ONNX_DIR, nothing fetched


def test_token_batches_cap_items_and_padded_tokens():
    from index.onnx_backend import token_batches

    order = list(range(7))
    lengths = [10, 10, 10, 100, 100, 200, 300]  # sorted by length, as encode() sorts them
    batches = token_batches(order, lengths, max_items=2, max_tokens=250)
    assert batches == [[0, 1], [2, 3], [4], [5], [6]]
    assert [i for b in batches for i in b] == order
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * width <= 250
    assert token_batches([], [], 4, 100) == []


def test_token_batches_cap_attention_cells():
    from index.onnx_backend import token_batches

    order = list(range(8))
    lengths = [16, 16, 16, 16, 64, 64, 128, 256]
    batches = token_batches(order, lengths, max_items=64, max_tokens=4096, max_cells=256 * 64)
    assert batches == [[0, 1, 2, 3], [4, 5], [6], [7]]
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * width * width <= 256 * 64
    uncapped = token_batches(order, lengths, max_items=64, max_tokens=4096)
    assert uncapped == [order]  # 8 x 256 padded tokens fit the token cap
