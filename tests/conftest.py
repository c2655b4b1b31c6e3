"""Shared fixtures: the demo library beside the repo, and settings for throwaway indexes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BALA_SHARED", REPO.parent / "shared"))
NO_SHARED = f"the shared data folder {SHARED} is absent (set BALA_SHARED to its path)"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{NO_SHARED}: missing {path}")
    return path


@pytest.fixture
def settings_for(tmp_path):
    """settings_for(name) -> Settings whose index lives in a fresh tmp folder."""
    from core.settings import load_settings

    def make(name: str = "index"):
        return load_settings(tmp_path / name)

    return make


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory):
    """The demo library (review + PubMed passages) ingested once per test session."""
    from core.settings import load_settings
    from index.build import ingest_paths

    corpus = shared_path("corpus")
    settings = load_settings(tmp_path_factory.mktemp("demo") / "index")
    report = ingest_paths([corpus], settings)
    assert not report.failed, report.failed
    return settings
