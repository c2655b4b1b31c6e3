"""`bala ingest`'s engine options: in this process (default) or with Ray Data (same build)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.settings import Settings
from core.types import IngestReport


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: should be a whole number >= 1")
    return int(value)


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: read and embed in this process (default); ray: with Ray Data, same build",
    )
    p.add_argument("--ray-address", help="join this Ray cluster (default: start Ray locally)")
    p.add_argument(
        "--ray-actors", type=_positive_int, default=2, help="embedding actors (default 2)"
    )


def run_ingest(args, settings: Settings) -> IngestReport | None:
    """The ingest the arguments ask for; None (the reason printed) when Ray cannot start."""
    paths, progress = [Path(p) for p in args.paths], sys.stderr.isatty()
    if getattr(args, "engine", "local") != "ray":
        from index.build import ingest_paths

        return ingest_paths(paths, settings, prune=args.prune, progress=progress)
    from index.ray_ingest import RayUnavailableError, ingest_with_ray

    try:
        return ingest_with_ray(
            paths, settings, args.prune, progress, args.ray_address, args.ray_actors
        )
    except RayUnavailableError as exc:
        print(f"bala ingest: {exc}", file=sys.stderr)
        return None
