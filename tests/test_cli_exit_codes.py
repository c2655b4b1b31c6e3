"""Exit codes say what happened (README "Exit codes"): each case, through the real CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOOD = "Blinatumomab is a bispecific T-cell engager. It induces remission in relapsed ALL."
KILL_AT = (
    "import sys; import index.local_build as b; from app.cli import main\n"
    "def hit(stage):\n"
    "    if stage == sys.argv[1]: raise KeyboardInterrupt\n"
    "b.stage_reached = hit; sys.exit(main(sys.argv[2:]))"
)


def _bala(*args, index: Path, prefix=("-m", "app.cli")) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *prefix, *map(str, args), "--index", str(index)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _good(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    return folder


def test_ok_is_0_and_no_lock_file_is_left(tmp_path):
    result = _bala("ingest", _good(tmp_path / "lib"), index=tmp_path / "ix")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "ix" / ".lock").exists()


def test_nothing_ingested_is_an_error(tmp_path):
    missing = _bala("ingest", tmp_path / "no-such-folder", index=tmp_path / "ix")
    assert missing.returncode == 1
    assert "nothing was ingested" in missing.stdout and "every other file" not in missing.stdout
    unsupported = tmp_path / "nxml"
    unsupported.mkdir()
    (unsupported / "a.nxml2").write_text("<article/>", encoding="utf-8")
    result = _bala("ingest", unsupported, index=tmp_path / "ix")
    assert result.returncode == 1, result.stdout
    assert "unsupported file type" in result.stdout


def test_some_files_failed_is_partial(tmp_path):
    lib = _good(tmp_path / "lib")
    (lib / "broken.pdf").write_bytes(b"not a pdf at all")
    result = _bala("ingest", lib, index=tmp_path / "ix")
    assert result.returncode == 3, result.stdout
    assert "FAILED" in result.stdout and str(lib / "broken.pdf") in result.stdout


def test_a_duplicate_file_is_partial(tmp_path):
    ix = tmp_path / "ix"
    assert _bala("ingest", _good(tmp_path / "a"), index=ix).returncode == 0
    result = _bala("ingest", _good(tmp_path / "b"), index=ix)
    assert result.returncode == 3, result.stdout
    assert "DUPLICATE" in result.stdout and str(tmp_path / "a" / "good.txt") in result.stdout


def test_an_empty_question_is_a_usage_error(tmp_path):
    result = _bala("ask", "   ", index=tmp_path / "ix")
    assert result.returncode == 2 and "empty" in result.stderr


def test_a_bad_setting_is_a_usage_error_naming_the_variable(tmp_path):
    env = {**os.environ, "BALA_K": "ten"}
    cmd = [sys.executable, "-m", "app.cli", "ask", "CAR T?", "--index", str(tmp_path / "ix")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2
    assert "BALA_K='ten'" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_index_is_an_error(tmp_path):
    result = _bala("status", index=tmp_path / "none")
    assert result.returncode == 1 and "no index" in result.stderr
    assert "Traceback" not in result.stderr


def test_interrupted_ingest_says_the_previous_build_is_kept(tmp_path):
    ix, lib = tmp_path / "ix", _good(tmp_path / "lib")
    assert _bala("ingest", lib, index=ix).returncode == 0
    (lib / "new.txt").write_text("A new paper on ICANS after CAR T.", encoding="utf-8")
    result = _bala("after_embed", "ingest", lib, index=ix, prefix=("-c", KILL_AT))
    assert result.returncode == 130
    assert "previous build is kept" in result.stderr and "Traceback" not in result.stderr
    assert not (ix / ".lock").exists()


def test_output_into_a_closed_pipe_ends_quietly(demo_index):
    cmd = [sys.executable, "-m", "app.cli", "status", "--json"]
    cmd += ["--index", str(demo_index.index_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()  # like `| head -1`: read a little, then close the pipe
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_the_readme_table_lists_the_codes_tested_here():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)
    if len(section) < 2:
        pytest.fail("README has no 'Exit codes' section")
    codes = set(re.findall(r"^\| (\d+) \|", section[1].split("\n## ", 1)[0], re.M))
    assert codes == {"0", "1", "2", "3", "130"}
