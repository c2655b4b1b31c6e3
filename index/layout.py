"""The index directory: builds side by side, an atomic `current` pointer, and a writer lock.

```
<index>/current -> builds/<build_id>    switched with one atomic rename
<index>/builds/<build_id>/              manifest.json, store.sqlite, dense.faiss, bm25/
<index>/cache/embeddings.sqlite         vectors shared across builds
<index>/feedback.sqlite                 app feedback
<index>/.lock                           one writer at a time
```
"""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

KEEP_BUILDS = 3


class IndexLockedError(RuntimeError):
    pass


class IndexMissingError(RuntimeError):
    pass


def builds_dir(index_dir: Path) -> Path:
    return index_dir / "builds"


def cache_path(index_dir: Path) -> Path:
    return index_dir / "cache" / "embeddings.sqlite"


def feedback_path(index_dir: Path) -> Path:
    return index_dir / "feedback.sqlite"


def current_build(index_dir: Path) -> Path | None:
    """The live build directory, or None when nothing has been built yet."""
    link = index_dir / "current"
    if not link.is_symlink() and not link.exists():
        return None
    target = (index_dir / os.readlink(link)) if link.is_symlink() else link
    return target if (target / "manifest.json").is_file() else None


def require_current_build(index_dir: Path) -> Path:
    build = current_build(index_dir)
    if build is None:
        raise IndexMissingError(
            f"no index at {index_dir}: build one with `bala ingest PATH... --index {index_dir}`"
        )
    return build


def switch_current(index_dir: Path, build_dir: Path) -> None:
    """Point `current` at `build_dir` atomically (rename of a fresh symlink over the old)."""
    tmp = index_dir / f".current.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(build_dir, index_dir), tmp)
    os.replace(tmp, index_dir / "current")
    _fsync_dir(index_dir)


def _fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finished_builds(index_dir: Path) -> list[Path]:
    """Published builds (a manifest, no '.partial'), newest first: by the time each manifest
    was written (build ids share a second when builds follow each other quickly)."""
    root = builds_dir(index_dir)
    if not root.is_dir():
        return []
    return sorted(
        (d for d in root.iterdir() if (d / "manifest.json").is_file() and "." not in d.name),
        key=lambda d: ((d / "manifest.json").stat().st_mtime_ns, d.name),
        reverse=True,
    )


HOLD_FILE = ".in-use"


def hold_build(build_dir: Path):
    """A shared lock on the build, held while a reader (the app, `bala ask`) has it open, so
    pruning skips it; the OS drops it when the reader exits. None where it cannot be taken
    (a read-only index folder): the build is then simply not protected."""
    try:
        handle = open(build_dir / HOLD_FILE, "a")
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return None
    return handle


def release_build(handle) -> None:
    if handle is not None:
        handle.close()


def _in_use(build_dir: Path) -> bool:
    path = build_dir / HOLD_FILE
    if not path.exists():
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def prune_old_builds(index_dir: Path, keep: int = KEEP_BUILDS) -> None:
    """Remove unfinished builds and all but the newest `keep` finished ones; never `current`,
    nor a build a running reader still holds."""
    live = current_build(index_dir)
    root = builds_dir(index_dir)
    if not root.is_dir():
        return
    finished = finished_builds(index_dir)
    for d in root.iterdir():
        unfinished = d.name.endswith(".partial") or not (d / "manifest.json").is_file()
        stale = unfinished or d in finished[keep:]
        if stale and live is not None and d.resolve() != live.resolve() and not _in_use(d):
            shutil.rmtree(d, ignore_errors=True)


def _acquire(path: Path, index_dir: Path):
    """An open, flock-ed handle on `path` that is still the file at that name."""
    while True:
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise IndexLockedError(
                f"another ingest is running on {index_dir} (lock held by {holder}); "
                "wait for it to finish"
            ) from exc
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()  # the previous holder removed it as we opened it: take the new one


@contextmanager
def writer_lock(index_dir: Path):
    """Refuse a second concurrent writer; the OS drops the lock if the process dies, and the
    lock file is removed when the writer is done."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / ".lock"
    handle = _acquire(path, index_dir)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held, so no other writer holds this inode
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
