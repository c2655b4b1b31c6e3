"""`bala bench latency`: warm ask latency on the demo library, and the CLI's cold start."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from eval.metrics import percentiles

# Issue 10: the answer scorer (its cross-encoder) may spend up to 150 ms (was 50 before it).
WARM_P95_TARGET_MS = 150.0

# A fixed list of clinician questions (answerable and not), asked in this order.
QUESTIONS = (
    "What are the outcomes of relapse after CD19 CAR T-cell therapy?",
    "How does CD19-negative relapse arise after blinatumomab?",
    "What is the response rate of blinatumomab in relapsed or refractory B-ALL?",
    "Which toxicities are common after tisagenlecleucel?",
    "How is cytokine release syndrome managed?",
    "What is the role of MRD before allogeneic transplant in ALL?",
    "Is lineage switch to AML seen after CD19-directed therapy?",
    "What are the results of CD22 CAR T cells after CD19 CAR failure?",
    "How effective is inotuzumab ozogamicin in Ph+ ALL?",
    "What diet is recommended for gout?",
)


def warm_latency(ask: Callable[[str], dict], rounds: int = 5) -> dict:
    """p50/p95 of ask (retrieval + quote selection) after one warm-up pass."""
    for q in QUESTIONS:
        ask(q)
    samples, parts = [], {"retrieve": [], "compose": []}
    for _ in range(rounds):
        for q in QUESTIONS:
            started = time.perf_counter()
            answer = ask(q)
            samples.append((time.perf_counter() - started) * 1000)
            for name in parts:
                parts[name].append(answer.get("timings_ms", {}).get(name, 0.0))
    result = {"n": len(samples), **{f"{k}_ms": v for k, v in percentiles(samples).items()}}
    for name, values in parts.items():
        result[name] = {f"{k}_ms": v for k, v in percentiles(values).items()}
    return result


def cold_start(index_dir: str, runs: int = 2) -> dict:
    """Wall time of a fresh `bala ask --json` process, model and index loading included."""
    times = []
    cmd = [sys.executable, "-m", "app.cli", "ask", QUESTIONS[0], "--json", "--index", index_dir]
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, timeout=600)
        times.append((time.perf_counter() - started) * 1000)
    return {"runs": runs, "min_ms": min(times), "max_ms": max(times)}


def run_latency_bench(ask, index_dir: str, rounds: int = 5, cold_runs: int = 2) -> dict:
    warm = warm_latency(ask, rounds)
    return {
        "questions": len(QUESTIONS),
        "warm": warm,
        "target_warm_p95_ms": WARM_P95_TARGET_MS,
        "warm_p95_within_target": warm["p95_ms"] <= WARM_P95_TARGET_MS,
        "cold_start": cold_start(index_dir, cold_runs) if cold_runs else None,
    }
