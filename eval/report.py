"""Markdown + PNG report of one evaluation run.

The eval runner builds `result` with this shape (extra keys are ignored):

    {
        "set": str,                      # e.g. "bioasq-ci" or "curated"
        "build_id": str,                 # index build the run used
        "k": int,                        # optional rank cutoff, default 10
        "summary": {metric: value},      # value: float | int | str | None
        "questions": [
            {
                "id": str,
                "question": str,
                "answerable": bool,      # False => the system should abstain
                "abstained": bool,
                "best_gold_rank": int | None,   # None = no gold within the cutoff
                "latency_ms": float,
                "quotes": [...],
                "cited_source_ids": [str, ...],
            },
        ],
    }

`write_report` writes `report.md`, `best_gold_rank.png`, `abstention.png` and
`latency.png` into `out_dir` and returns the path of `report.md`. Plots are drawn on
Agg canvases without pyplot, so no global backend state is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RANK_PNG = "best_gold_rank.png"
ABSTAIN_PNG = "abstention.png"
LATENCY_PNG = "latency.png"
MAX_QUESTION_CHARS = 200


def _figure(width: float = 6.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png")


def plot_best_gold_rank(questions: Sequence[Mapping], k: int, path: Path) -> None:
    """Bar per answerable question of its best gold rank; beyond-k ranks drawn at k+1 in red.

    Unanswerable questions have no gold source, so they have no rank to draw.
    """
    questions = [q for q in questions if q.get("answerable", True)]
    ranks = [q.get("best_gold_rank") for q in questions]
    found = [r is not None and r <= k for r in ranks]
    heights = [r if ok else k + 1 for r, ok in zip(ranks, found, strict=True)]
    colors = ["tab:blue" if ok else "tab:red" for ok in found]
    fig = _figure(max(6.0, min(0.25 * len(ranks), 30.0)), 4.0)
    ax = fig.add_subplot()
    ax.bar(range(len(heights)), heights, color=colors)
    ax.axhline(k + 0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("answerable question")
    ax.set_ylabel("best gold rank (lower is better)")
    ax.set_title(f"Best gold rank per question (red = beyond top {k})")
    if len(ranks) <= 40:
        ax.set_xticks(range(len(ranks)))
        ax.set_xticklabels([str(q.get("id", "")) for q in questions], rotation=90)
    _save(fig, path)


def confusion_counts(questions: Sequence[Mapping]) -> list[list[int]]:
    """2x2 counts: rows = should abstain (no, yes), cols = did abstain (no, yes)."""
    m = [[0, 0], [0, 0]]
    for q in questions:
        should = not bool(q.get("answerable", True))
        m[int(should)][int(bool(q.get("abstained", False)))] += 1
    return m


def plot_abstention(questions: Sequence[Mapping], path: Path) -> None:
    """Abstention confusion matrix as a 2x2 image annotated with counts."""
    m = confusion_counts(questions)
    fig = _figure(4.5, 4.0)
    ax = fig.add_subplot()
    vmax = max(1, max(max(row) for row in m))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax)
    labels = ["answered", "abstained"]
    ax.set_xticks([0, 1], labels)
    ax.set_yticks([0, 1], ["answerable", "unanswerable"])
    ax.set_xlabel("system")
    ax.set_ylabel("gold")
    for i in range(2):
        for j in range(2):
            color = "white" if m[i][j] > vmax / 2 else "black"
            ax.text(j, i, str(m[i][j]), ha="center", va="center", fontsize=14, color=color)
    ax.set_title("Abstention")
    _save(fig, path)


def plot_latency(questions: Sequence[Mapping], path: Path) -> None:
    """Histogram of per-question latency in ms."""
    values = [float(q["latency_ms"]) for q in questions if q.get("latency_ms") is not None]
    fig = _figure()
    ax = fig.add_subplot()
    if values:
        ax.hist(values, bins=min(30, max(1, len(values))))
    else:
        ax.text(0.5, 0.5, "no latencies", ha="center", va="center")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    _save(fig, path)


def md_escape(text: Any) -> str:
    """Table-cell safe text: pipes escaped, newlines flattened."""
    s = "" if text is None else str(text)
    return " ".join(s.split()).replace("|", "\\|")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return md_escape(value)


def _short(text: Any) -> str:
    s = md_escape(text)
    return s if len(s) <= MAX_QUESTION_CHARS else s[: MAX_QUESTION_CHARS - 1] + "…"


def _summary_table(summary: Mapping[str, Any]) -> list[str]:
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {md_escape(name)} | {_fmt(v)} |" for name, v in summary.items()]
    return lines


def _question_table(questions: Sequence[Mapping], k: int) -> list[str]:
    lines = [
        "| id | question | answerable | abstained | best gold rank | latency (ms) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for q in questions:
        rank = q.get("best_gold_rank")
        rank_s = str(rank) if rank is not None else f">{k}"
        if not q.get("answerable", True):
            rank_s = "n/a"
        lat = q.get("latency_ms")
        lat_s = f"{float(lat):.1f}" if lat is not None else "–"
        lines.append(
            f"| {md_escape(q.get('id'))} | {_short(q.get('question'))} "
            f"| {_fmt(q.get('answerable'))} | {_fmt(q.get('abstained'))} "
            f"| {rank_s} | {lat_s} |"
        )
    return lines


def render_markdown(result: Mapping[str, Any]) -> str:
    """Markdown text of the report; plots referenced by relative path."""
    k = int(result.get("k", 10))
    questions = result.get("questions", [])
    lines = [
        f"# Evaluation report: {md_escape(result.get('set', ''))}",
        "",
        f"- build: `{result.get('build_id', '')}`",
        f"- questions: {len(questions)}",
        f"- rank cutoff k: {k}",
        "",
        "## Summary",
        "",
        *_summary_table(result.get("summary", {})),
        "",
        "## Plots",
        "",
        f"![Best gold rank per question]({RANK_PNG})",
        "",
        f"![Abstention confusion matrix]({ABSTAIN_PNG})",
        "",
        f"![Latency histogram]({LATENCY_PNG})",
        "",
        "## Questions",
        "",
        *_question_table(questions, k),
        "",
    ]
    return "\n".join(lines)


def write_report(result: Mapping[str, Any], out_dir: Path) -> Path:
    """Write report.md and its PNG plots into out_dir; return the report path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    questions = result.get("questions", [])
    k = int(result.get("k", 10))
    plot_best_gold_rank(questions, k, out / RANK_PNG)
    plot_abstention(questions, out / ABSTAIN_PNG)
    plot_latency(questions, out / LATENCY_PNG)
    path = out / "report.md"
    path.write_text(render_markdown(result), encoding="utf-8")
    return path
