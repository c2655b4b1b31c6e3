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


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """One milvus-lite server (Milvus's C++ engine) on a free loopback port for the session,
    stopped by its PID at teardown; skips only where it cannot start here."""
    from index.milvus_server import LiteServerError, lite_server

    db = tmp_path_factory.mktemp("milvus") / "bala.db"
    try:
        server = lite_server(db)
        running = server.__enter__()
    except LiteServerError as exc:
        pytest.skip(f"milvus-lite cannot start on this machine: {exc}")
    try:
        yield running.uri
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def milvus_client(milvus_uri):
    """A client of the session's Milvus with no collections left by an earlier test."""
    from index.milvus_build import connect

    client = connect(milvus_uri)
    for name in client.list_collections():
        client.drop_collection(name)
    yield client
    client.close()
