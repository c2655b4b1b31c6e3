"""CI gate: committed expected scores (with tolerances) for the curated set and a BioASQ subset."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO, shared_path

from eval.curated import load_eval_set, run_eval

EXPECTED = yaml.safe_load((REPO / "eval" / "expected_scores.yaml").read_text(encoding="utf-8"))


def _regressions(measured: dict, block: dict) -> list[str]:
    """Metrics that fell below expected - tolerance (or rose above for lower-is-better)."""
    found = []
    for metric, spec in block["metrics"].items():
        value = measured[metric]
        floor = spec["expected"] - spec["tolerance"]
        if value is None or value < floor:
            found.append(f"{metric}: {value} < {floor:.4f} (expected {spec['expected']})")
    return found


def test_regression_check_flags_drops_only():
    block = {"metrics": {"m": {"expected": 0.8, "tolerance": 0.02}}}
    assert _regressions({"m": 0.79}, block) == []
    assert _regressions({"m": 0.9}, block) == []
    assert len(_regressions({"m": 0.77}, block)) == 1


def test_curated_set_gate(demo_index):
    from app.cli import engine_functions

    fns = engine_functions(demo_index)
    result = run_eval(load_eval_set(), fns.ask, fns.rank_sources, fns.stored_slice)
    summary = result["summary"]
    # Faithfulness is tested where it can fail: tests/test_answer.py corrupts stored text.
    assert summary["questions"] >= 60 and summary["answerable"] >= 40
    assert _regressions(summary, EXPECTED["curated"]) == []


@pytest.mark.parametrize("eval_set", sorted(EXPECTED["holdout"]))
def test_held_out_set_gate(demo_index, eval_set):
    from app.cli import engine_functions

    fns = engine_functions(demo_index)
    questions = load_eval_set(REPO / eval_set)
    summary = run_eval(questions, fns.ask, fns.rank_sources, fns.stored_slice)["summary"]
    assert summary["answerable"] == 16 and summary["questions"] == 23
    assert _regressions(summary, EXPECTED["holdout"][eval_set]) == []


def test_bioasq_subset_gate(tmp_path):
    from eval.bench_bioasq import run_bioasq_bench

    spec = EXPECTED["bioasq_subset"]
    files = sorted(shared_path("bench", "bioasq").glob(spec["files"]))
    result = run_bioasq_bench(
        files,
        files,
        cache_path=Path(tmp_path) / "embeddings.sqlite",
        max_queries=spec["queries"],
        max_docs=spec["max_docs"],
    )
    assert result["queries"] == spec["queries"]
    for name, block in spec["retrievers"].items():
        assert _regressions(result["retrievers"][name], block) == [], name


@pytest.mark.slow
def test_bioasq_full_run():
    """All dev files as corpus and queries (the README table); minutes, not seconds."""
    from eval.bench_bioasq import run_bioasq_bench

    files = sorted(shared_path("bench", "bioasq").glob("*_golden.json"))
    result = run_bioasq_bench(files, files)
    spec = EXPECTED["bioasq_full"]
    for name, block in spec["retrievers"].items():
        assert _regressions(result["retrievers"][name], block) == [], name


@pytest.mark.slow
def test_abstention_settings_are_the_calibrated_ones(demo_index):
    """`bala bench abstention` over the demo library picks the thresholds the settings hold."""
    from app.cli import engine_functions
    from eval.bioasq_data import golden_files
    from eval.calibrate import run_calibration

    fns = engine_functions(demo_index)
    result = run_calibration(fns, golden_files(shared_path("bench", "bioasq")))
    cfg = fns.answer_settings
    keys = ("min_cosine", "min_overlap", "min_answer", "rescue_cosine", "rescue_overlap")
    assert result["chosen"] == {k: getattr(cfg, k) for k in (*keys, "rescue_answer")}
