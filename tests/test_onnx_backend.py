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
    monkeypatch.setenv("BALA_ONNX_DIR", str(tmp_path))
    vectors = OnnxEmbedder("sentence-transformers/all-MiniLM-L6-v2", 2, variant).encode(TEXTS)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * torch_vectors, axis=1)
    assert cosines.min() >= min_cosine, cosines
    assert np.array_equal(vectors[0], vectors[4])
    assert any(tmp_path.rglob("*.onnx"))  # exported into BALA_ONNX_DIR, nothing fetched
