"""Settings: defaults, the BALA_ environment (flat and nested names), validation, replace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli import EXIT_USAGE, main
from core.settings import (
    DEFAULT_INDEX_DIR,
    AnswerSettings,
    RetrieveSettings,
    Settings,
    SettingsError,
    env_names,
    load_settings,
    sections,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch):
    """No BALA_ variable (nor NCBI_API_KEY) from the caller's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("BALA_") or name == "NCBI_API_KEY":
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_without_environment(clean_env):
    settings = load_settings()
    assert settings.index_dir == DEFAULT_INDEX_DIR
    assert settings.ingest.chunk_size == 900
    assert settings.retrieve == RetrieveSettings()
    assert settings.library_dir == DEFAULT_INDEX_DIR.parent / "library"


def test_flat_names_set_each_section_with_its_type(clean_env):
    clean_env.setenv("BALA_CHUNK_SIZE", "512")
    clean_env.setenv("BALA_BACKEND", "torch")
    clean_env.setenv("BALA_DENSE_WEIGHT", "0.6")
    clean_env.setenv("BALA_MIN_COSINE", "0.4")
    clean_env.setenv("BALA_FETCH_FULL_TEXT", "0")
    clean_env.setenv("BALA_INDEX", "~/elsewhere")
    settings = load_settings()
    assert settings.ingest.chunk_size == 512
    assert settings.index.backend == "torch"
    assert settings.retrieve.dense_weight == 0.6
    assert settings.answer.min_cosine == 0.4
    assert settings.fetch.fetch_full_text is False
    assert settings.index_dir == Path("~/elsewhere").expanduser()


def test_nested_name_wins_over_flat_and_empty_is_unset(clean_env):
    clean_env.setenv("BALA_K", "4")
    clean_env.setenv("BALA_RETRIEVE__K", "3")
    clean_env.setenv("BALA_CANDIDATES", "")
    settings = load_settings()
    assert settings.retrieve.k == 3
    assert settings.retrieve.candidates == RetrieveSettings().candidates


def test_cli_flag_beats_environment(clean_env, tmp_path):
    clean_env.setenv("BALA_INDEX", str(tmp_path / "from-env"))
    assert load_settings(tmp_path / "flag").index_dir == tmp_path / "flag"


def test_ncbi_api_key_fallback_and_precedence(clean_env):
    clean_env.setenv("NCBI_API_KEY", "plain")
    assert load_settings().fetch.ncbi_api_key == "plain"
    clean_env.setenv("BALA_NCBI_API_KEY", "ours")
    assert load_settings().fetch.ncbi_api_key == "ours"


@pytest.mark.parametrize(
    "var, value",
    [
        ("BALA_CHUNK_SIZE", "nine hundred"),
        ("BALA_BACKEND", "gpu"),
        ("BALA_FUSION", "rfr"),
        ("BALA_SCORER", "answr"),
        ("BALA_FETCH_FULL_TEXT", "perhaps"),
        ("BALA_ANSWER__MIN_COSINE", "high"),
    ],
)
def test_bad_value_names_the_variable(clean_env, var, value):
    clean_env.setenv(var, value)
    with pytest.raises(SettingsError, match=re.escape(f"{var}='{value}'")):
        load_settings()


def test_cli_bad_value_is_a_usage_error_without_traceback(clean_env, capsys, tmp_path):
    clean_env.setenv("BALA_CANDIDATES", "many")
    code = main(["status", "--index", str(tmp_path / "ix")])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "BALA_CANDIDATES='many'" in err and "integer" in err
    assert "Traceback" not in err


def test_replace_validates_and_merges_section_dicts(clean_env, tmp_path):
    base = load_settings(tmp_path)
    changed = base.replace(answer={"scorer": "legacy"}, index_dir=str(tmp_path / "b"))
    assert changed.answer.scorer == "legacy"
    assert changed.answer.min_cosine == base.answer.min_cosine
    assert changed.index_dir == tmp_path / "b"
    assert base.answer.scorer == "answer"  # the original is untouched
    assert base.retrieve.replace(k=7).k == 7
    with pytest.raises(SettingsError, match="AnswerSettings.scorer"):
        base.replace(answer={"scorer": "nonsense"})
    with pytest.raises(SettingsError, match="RetrieveSettings.k"):
        base.retrieve.replace(k="seven")
    with pytest.raises(TypeError, match="no setting colour"):
        base.replace(colour="red")


def test_replace_does_not_reread_the_environment(clean_env, tmp_path):
    base = load_settings(tmp_path)
    clean_env.setenv("BALA_CHUNK_SIZE", "123")
    assert base.replace(answer={"max_quotes": 2}).ingest.chunk_size == 900


def test_settings_are_frozen_and_hashable(clean_env):
    settings = load_settings()
    with pytest.raises(ValueError):
        settings.index_dir = Path("/tmp")
    with pytest.raises(ValueError):
        settings.answer.max_quotes = 1
    assert hash(settings) == hash(load_settings())
    assert {AnswerSettings(): 1}[AnswerSettings()] == 1


def test_sections_alone_hold_defaults_even_with_environment(clean_env):
    clean_env.setenv("BALA_K", "2")
    assert RetrieveSettings().k == 10
    assert Settings().retrieve.k == 2


def test_flat_names_are_unique_so_each_variable_sets_one_field():
    seen: dict[str, str] = {}
    for section, cls in sections().items():
        for name in cls.model_fields:
            flat = env_names(section, name)[1]
            assert flat not in seen, f"{flat} would set both {seen.get(flat)} and {section}.{name}"
            assert flat != "BALA_INDEX", f"{section}.{name} collides with BALA_INDEX"
            seen[flat] = f"{section}.{name}"


def test_every_documented_variable_is_a_setting():
    """The README and docs name BALA_ variables; each must still set something."""
    # Read outside Settings, by the process or the tests (docs/settings.md lists them).
    known = {"BALA_INDEX", "BALA_SHARED", "BALA_REFEXTRACT_PATH", "BALA_THREADS"}
    for section, cls in sections().items():
        for name in cls.model_fields:
            known.update(env_names(section, name))
    texts = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    documented = set()
    for path in texts:
        documented.update(re.findall(r"BALA_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8")))
    assert documented, "no BALA_ variable documented at all"
    assert documented <= known, f"documented but not settings: {sorted(documented - known)}"


def test_bala_settings_shows_values_sources_and_hides_the_key(clean_env, capsys, tmp_path):
    import json

    clean_env.setenv("BALA_RETRIEVE__K", "3")
    clean_env.setenv("NCBI_API_KEY", "s3cret")
    assert main(["settings", "--json", "--index", str(tmp_path)]) == 0
    rows = {r["setting"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["retrieve.k"] == {
        "setting": "retrieve.k",
        "variable": "BALA_K",
        "value": 3,
        "from": "BALA_RETRIEVE__K",
    }
    assert rows["index_dir"]["from"] == "--index" and rows["index_dir"]["value"] == str(tmp_path)
    assert rows["ingest.chunk_size"]["from"] == "default"
    assert rows["fetch.ncbi_api_key"]["value"] == "(set)"
    assert "s3cret" not in json.dumps(rows)
    assert len(rows) == 1 + sum(len(cls.model_fields) for cls in sections().values())


def test_docs_settings_lists_every_setting_with_its_default():
    rows = {
        line.split("|")[1].strip(): line
        for line in (REPO / "docs" / "settings.md").read_text("utf-8").splitlines()
        if line.startswith("| `BALA_")
    }
    wrong = []
    for section, cls in sections().items():
        for name, info in cls.model_fields.items():
            row = rows.get(f"`{env_names(section, name)[1]}`", "")
            if f"`{section}.{name}`" not in row or f"`{info.default!r}`" not in row:
                wrong.append(f"{section}.{name} (default {info.default!r})")
    assert not wrong, f"docs/settings.md does not list, or lists another default for: {wrong}"


def test_every_section_is_a_frozen_settings_model():
    """A section added the old way (a dataclass) would not be read from the environment nor
    validated: it must be `class XSettings(_Frozen)` like the others."""
    from pydantic import BaseModel

    from core.settings import _Frozen

    for name, info in Settings.model_fields.items():
        if name == "index_dir":
            continue
        cls = info.annotation
        assert isinstance(cls, type) and issubclass(cls, BaseModel), f"{name}: {cls}"
        assert issubclass(cls, _Frozen), f"Settings.{name} ({cls.__name__}) is not a _Frozen model"


def test_onnx_threads_from_bala_threads_or_the_cpu_count():
    import os

    from core.settings import onnx_threads

    assert onnx_threads({"BALA_THREADS": "3"}) == 3
    assert onnx_threads({}) == (os.cpu_count() or 2)
    for bad in ("two", "0", "-1", "1.5"):
        with pytest.raises(SettingsError, match=re.escape(f"BALA_THREADS='{bad}'")):
            onnx_threads({"BALA_THREADS": bad})
