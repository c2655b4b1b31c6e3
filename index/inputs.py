"""Which input files an ingest run covers, and what changed since the live build."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import is_supported
from ingest.metadata import is_sidecar


@dataclass(frozen=True)
class InputFile:
    path: Path  # absolute
    sha256: str  # of the file bytes plus its sidecar's, so metadata edits count as changes


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]], list[tuple[str, str]]]:
    """(supported files, skipped (file, reason), missing (path, reason)); folders recurse."""
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    missing: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if not path.exists():
            missing.append((str(raw), "no such file or folder"))
            continue
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if any(part.startswith(".") for part in candidate.relative_to(path.parent).parts):
                continue
            if is_supported(candidate):
                found.append(candidate)
            elif not is_sidecar(candidate):
                reason = f"unsupported file type '{candidate.suffix or '(none)'}'"
                skipped.append((str(candidate), reason))
    return list(dict.fromkeys(found)), skipped, missing


def file_sha256(path: Path) -> str:
    """Content hash of a file together with its sidecar metadata, if any."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    sidecar = path.with_suffix(".json")
    if path.suffix.lower() != ".jsonl" and sidecar.is_file():
        digest.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return digest.hexdigest()
