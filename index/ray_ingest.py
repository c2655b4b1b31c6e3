"""`bala ingest --engine ray`: the same ingest, with files read and chunks embedded by Ray Data.

Only where the work runs changes (a `Runner`, index/ingest_runner.py): the plan, duplicates,
chunking, the embedding cache and the build written are `index/build.py`'s, so the build is
the one a single-process ingest writes. Files are read by Ray tasks (one file per task:
MEDLINE/JSONL shards in parallel; a bad file is a reason reported against it, the batch goes
on). Chunks are embedded by a pool of actors, each holding one model (the ONNX backends, or
torch), its vectors streamed back to the driver and written to the embedding cache as they
arrive, so an interrupted run resumes and a re-run embeds nothing already embedded.

Ray starts in this process (`ray.init(num_cpus=N)`, no dashboard) unless an address is given
(`--ray-address`, e.g. `ray://head:10001` or `auto`): then it connects to that cluster, whose
workers must have bala installed and see the input files at the same paths.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.settings import IndexSettings, IngestSettings, Settings
from core.types import IngestReport
from index.ingest_runner import Loaded, Runner, load_one
from index.model import MODEL_DIM
from index.store_rows import document_from_dict, document_to_dict
from ingest.loaders import LoadResult

EMBED_BATCH = 256  # texts per actor call: one block of the dataset, cached when it returns
RAY_BLOCK_CHUNKS = 50_000  # chunks per pool of actors (the local build's block, on Ray)


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster named cannot be reached."""


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            "--engine ray needs Ray Data: pip install 'ray[data]' (it is in bala's dependencies)"
        ) from exc
    return ray


@contextmanager
def ray_session(address: str | None = None, cpus: int | None = None):
    """A Ray session for the block: an existing one is used as is; else a cluster at
    `address` is joined, or a local one started with `cpus` CPUs. Only what this call
    started is shut down after."""
    ray = _ray()
    if address:
        _check_reachable(address)
    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=cpus or os.cpu_count() or 2,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
    except Exception as exc:  # ConnectionError, TimeoutError, RuntimeError, ...
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise RayUnavailableError(f"could not start or reach {where}: {exc}") from exc
    _quiet_data(ray)
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail fast, naming the address, when a `host:port` (or `ray://host:port`) cluster does
    not answer: `ray.init` would otherwise retry for minutes. `auto` is left to Ray."""
    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise RayUnavailableError(
            f"the Ray cluster at {address} is unreachable ({exc.strerror or exc})"
        ) from exc


def _quiet_data(ray) -> None:
    """No progress bars or per-dataset log lines on the CLI's terminal."""
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False


class EmbedActor:
    """One Ray actor: one embedding model, loaded once, encoding the batches it is sent."""

    def __init__(self, index_json: str, threads: int):
        os.environ["BALA_THREADS"] = str(threads)
        from index.embed import load_embedder

        self.embedder = load_embedder(IndexSettings.model_validate_json(index_json))

    def __call__(self, batch: dict) -> dict:
        # In row order, as the local build hands them over: texts of equal length then meet
        # in the same int8 batches, so a one-block library gets the local build's vectors.
        order = np.argsort(batch["row"], kind="stable")
        vectors = self.embedder.encode([str(batch["text"][i]) for i in order])
        return {"row": batch["row"][order], "vector": np.asarray(vectors, dtype=np.float32)}


class RayEmbedder:
    """The Embedder protocol over a Ray Data actor pool (`actors` models, `threads` each).

    `encode_stream` yields (row numbers, vectors) as blocks finish, in any order; `encode`
    gathers them row-aligned."""

    def __init__(self, settings: IndexSettings, actors: int = 1, threads: int = 1):
        self.model_id, self.backend, self.dim = settings.model_id, settings.backend, MODEL_DIM
        self.index_json = settings.model_dump_json()  # settings cross to actors as JSON
        self.actors, self.threads = actors, threads
        if settings.backend in ("onnx", "onnx-int8"):  # export once here, not in every actor
            from index.onnx_backend import ensure_exported

            ensure_exported(settings.backend, settings.onnx_cache_dir)

    def encode_stream(self, texts: list[str]) -> Iterator[tuple[list[int], np.ndarray]]:
        if not texts:
            return
        ray = _ray()
        # Blocks of texts of like length (rows say where each vector goes): a block is padded
        # to its longest text, so mixed blocks would spend the actors' time on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        items = [{"row": i, "text": texts[i]} for i in order]
        blocks = math.ceil(len(items) / EMBED_BATCH)
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            EmbedActor,
            fn_constructor_kwargs={"index_json": self.index_json, "threads": self.threads},
            compute=ray.data.ActorPoolStrategy(size=min(self.actors, blocks)),
            num_cpus=self.threads,
            batch_size=EMBED_BATCH,
            batch_format="numpy",
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            yield batch["row"].tolist(), batch["vector"]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, vectors in self.encode_stream(texts):
            out[rows] = vectors
        return out


def load_as_json(path: str, sha256: str, settings_json: str) -> str:
    """One file read in a Ray task, its outcome as JSON text: only strings cross between
    processes, so nothing of ours is rebuilt by unpickling (Ray's own transport of a str is
    all that remains)."""
    result, reason = load_one(Path(path), sha256, IngestSettings.model_validate_json(settings_json))
    if result is None:
        return json.dumps({"reason": reason})
    return json.dumps(
        {
            "documents": [document_to_dict(d) for d in result.documents],
            "warnings": list(result.warnings),
            "deleted_pmids": list(result.deleted_pmids),
        },
        ensure_ascii=False,
    )


def loaded_from_json(text: str) -> Loaded:
    """The outcome `load_as_json` wrote: (LoadResult, "") or (None, reason)."""
    data = json.loads(text)
    if "reason" in data:
        return None, data["reason"]
    documents = tuple(document_from_dict(d) for d in data["documents"])
    result = LoadResult(documents, tuple(data["warnings"]), tuple(data["deleted_pmids"]))
    return result, ""


def ray_load_files(items: list[tuple[Path, str]], settings: IngestSettings) -> list[Loaded]:
    """Files read by Ray tasks (one file each, in parallel), outcomes in the order given.
    Paths, settings and parsed documents travel as JSON text (`load_as_json`)."""
    ray = _ray()
    load = ray.remote(load_as_json)
    settings_json = settings.model_dump_json()
    outcomes = ray.get([load.remote(str(path), sha, settings_json) for path, sha in items])
    return [loaded_from_json(text) for text in outcomes]


def ray_runner(actors: int = 1, threads: int = 1) -> Runner:
    """Files read by Ray tasks, chunks embedded by `actors` actors of `threads` CPUs."""
    return Runner(
        f"ray ({actors} actor{'s' if actors != 1 else ''})",
        ray_load_files,
        lambda index: RayEmbedder(index, actors, threads),
        block_chunks=RAY_BLOCK_CHUNKS,
    )


def ingest_with_ray(
    paths: list[Path],
    settings: Settings,
    prune: bool = False,
    progress: bool = False,
    address: str | None = None,
    actors: int = 2,
) -> IngestReport:
    """`bala ingest --engine ray`: `ingest_paths` with the Ray runner, in a Ray session
    (local with `actors` CPUs, or the cluster at `address`)."""
    from index.build import ingest_paths

    with ray_session(address, cpus=actors):
        return ingest_paths(paths, settings, prune, progress, runner=ray_runner(actors))
