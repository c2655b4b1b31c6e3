"""Report writer: markdown content and valid PNG plots."""

from __future__ import annotations

import copy
from pathlib import Path

from eval.report import (
    ABSTAIN_PNG,
    LATENCY_PNG,
    RANK_PNG,
    confusion_counts,
    md_escape,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result() -> dict:
    return {
        "set": "tiny",
        "build_id": "build-123",
        "summary": {"ndcg@10": 0.51234, "recall@10": 0.75, "n": 3, "missing": None},
        "questions": [
            {
                "id": "q1",
                "question": "Is A | B a thing?",
                "answerable": True,
                "abstained": False,
                "best_gold_rank": 2,
                "latency_ms": 120.5,
                "quotes": [],
                "cited_source_ids": ["pmid:1"],
            },
            {
                "id": "q2",
                "question": "Unknowable\nquestion",
                "answerable": False,
                "abstained": True,
                "best_gold_rank": None,
                "latency_ms": 80.0,
                "quotes": [],
                "cited_source_ids": [],
            },
            {
                "id": "q3",
                "question": "Missed",
                "answerable": True,
                "abstained": True,
                "best_gold_rank": None,
                "latency_ms": 300.0,
                "quotes": [],
                "cited_source_ids": [],
            },
        ],
    }


def test_write_report(tmp_path: Path) -> None:
    result = _result()
    original = copy.deepcopy(result)
    path = write_report(result, tmp_path / "out")
    assert path == tmp_path / "out" / "report.md"
    md = path.read_text(encoding="utf-8")
    for png in (RANK_PNG, ABSTAIN_PNG, LATENCY_PNG):
        data = (path.parent / png).read_bytes()
        assert len(data) > 100 and data.startswith(PNG_MAGIC)
        assert f"]({png})" in md
    assert "| ndcg@10 | 0.5123 |" in md
    assert "| n | 3 |" in md
    assert "build-123" in md
    assert "Is A \\| B a thing?" in md
    assert "| q1 | Is A \\| B a thing? | yes | no | 2 | 120.5 |" in md
    assert "| q2 | Unknowable question | no | yes | n/a | 80.0 |" in md
    assert "| q3 | Missed | yes | yes | >10 | 300.0 |" in md
    assert result == original


def test_write_report_empty(tmp_path: Path) -> None:
    path = write_report({"set": "empty", "build_id": "", "summary": {}, "questions": []}, tmp_path)
    for png in (RANK_PNG, ABSTAIN_PNG, LATENCY_PNG):
        assert (tmp_path / png).read_bytes().startswith(PNG_MAGIC)
    assert "questions: 0" in path.read_text(encoding="utf-8")


def test_confusion_counts_and_escape() -> None:
    assert confusion_counts(_result()["questions"]) == [[1, 1], [0, 1]]
    assert md_escape("a|b\n c") == "a\\|b c"
    assert md_escape(None) == ""
