"""Which input files an ingest run covers, and what changed since the live build."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import MANIFEST_EXT, is_supported
from ingest.metadata import is_sidecar
from ingest.refmanager import all_attachments, looks_like_csl_json


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
            elif is_sidecar(candidate):
                continue
            elif candidate.suffix.lower() == ".json" and looks_like_csl_json(candidate):
                found.append(candidate)
            else:
                reason = f"unsupported file type '{candidate.suffix or '(none)'}'"
                skipped.append((str(candidate), reason))
    return _without_attachments(list(dict.fromkeys(found))), skipped, missing


def _without_attachments(found: list[Path]) -> list[Path]:
    """PDFs that a reference-manager export in the run attaches are ingested through it."""
    attached = {p for f in found if f.suffix.lower() in MANIFEST_EXT for p in all_attachments(f)}
    return [f for f in found if f not in attached]


def file_sha256(path: Path) -> str:
    """Content hash of a file together with its sidecar metadata, if any."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    sidecar = path.with_suffix(".json")
    if path.suffix.lower() in MANIFEST_EXT:  # an export changes when an attached file does
        for attached in all_attachments(path):
            digest.update(b"\x00attached\x00" + file_sha256(attached).encode())
    elif path.suffix.lower() != ".jsonl" and sidecar.is_file():
        digest.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return digest.hexdigest()
