"""How an ingest run reads its files, embeds its chunks and writes what it made.

`index/build.py` decides what a build holds (plan, duplicates, reuse, chunking); a `Runner`
only says where the work is done: in this process (`LOCAL`, the default) or on a Ray
cluster (`index/ray_ingest.py`). The build written is the same whichever runner did it.
By default the local build (`index.local_build.write_streamed`) writes the new rows block by
block as they are embedded. Another `Writer` can be given instead: a function taking all
the new rows at once (sources, chunks, vectors) and the run's context, e.g. a Milvus
collection writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.settings import IndexSettings, IngestSettings
from core.types import Chunk, Document
from index.embed import EMBED_SLICE, load_embedder
from index.model import Embedder
from ingest.errors import IngestError
from ingest.loaders import LoadResult, load_file

# One file's outcome: its documents, or None and the reason it could not be read.
Loaded = tuple[LoadResult | None, str]


def load_one(path: Path, sha256: str, settings: IngestSettings) -> Loaded:
    """Read one file; a bad file is a reason naming the problem, never an exception, so the
    batch goes on (the reason is reported against the file, exit 3)."""
    try:
        return load_file(path, sha256, settings), ""
    except IngestError as exc:
        return None, exc.reason
    except Exception as exc:  # a parser bug must not stop the batch
        return None, f"could not be read ({type(exc).__name__}: {exc})"


def load_here(items: list[tuple[Path, str]], settings: IngestSettings) -> list[Loaded]:
    """Files read one after the other in this process, in the order given."""
    return [load_one(path, sha, settings) for path, sha in items]


@dataclass(frozen=True)
class NewRows:
    """What an ingest run adds: the new sources' documents, their chunks, and one
    normalized float32 vector per chunk (row-aligned), with how many were computed afresh
    (the rest came from the embedding cache)."""

    documents: list[Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    embedded: int


# A writer stores the new rows (with the run's context: index folder, live build, kept
# sources, settings, report) and returns the id of what it published.
Writer = Callable[..., str]


@dataclass(frozen=True)
class Runner:
    """Where an ingest run reads files and embeds text; `name` is shown in reports."""

    name: str
    load_files: Callable[[list[tuple[Path, str]], IngestSettings], list[Loaded]]
    embedder: Callable[[IndexSettings], Embedder]
    # Chunks written and embedded at a time by the local build: one embedding-cache slice
    # here; a Ray runner takes far more per call (each call starts its pool of actors).
    block_chunks: int = EMBED_SLICE


LOCAL = Runner("local", load_here, load_embedder)
