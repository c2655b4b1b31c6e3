"""refextract (INSPIRE's maintained reference parser) measured against bala's on the same
text, for `bala bench refs`. It cannot share bala's venv (refextract 1.1.7 requires
pypdf < 7), so it runs in a child process from a separate site dir named by
$BALA_REFEXTRACT_PATH (e.g. `pip install --target DIR refextract==1.1.7`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from core.types import Document
from eval.refs_text import TRUTH, loose, norm

REFEXTRACT_ENV = "BALA_REFEXTRACT_PATH"  # a separate site dir: refextract pins pypdf<7
_REFEXTRACT_CHILD = """
import json, sys
from refextract import extract_references_from_string
out = {}
for name, text in json.load(sys.stdin).items():
    out[name] = extract_references_from_string(text)
json.dump(out, sys.stdout)
"""


def bench_refextract(folder: Path, docs: dict[str, Document]) -> dict:
    """refextract (INSPIRE's maintained parser) on the same reference-section text as ours,
    run in a child process from `$BALA_REFEXTRACT_PATH` (it cannot share bala's venv: it
    requires pypdf < 7). Scores entries by number and text and years, as for ours."""
    import importlib.util
    import os
    import subprocess
    import sys

    from ingest.references import reference_section

    path = os.environ.get(REFEXTRACT_ENV, "")
    if not path and importlib.util.find_spec("refextract") is None:
        return {"status": f"refextract not installed (set {REFEXTRACT_ENV} to a site dir)"}
    sections = {}
    for name, doc in docs.items():
        span = reference_section(doc.text)
        sections[name] = "References\n" + doc.text[span[0] : span[1]] if span else ""
        # and our own segmentation, one entry per line: refextract's field parsing alone
        lines = "\n".join(f"{r.n}. {r.text}" for r in doc.references)
        sections[name + "#our-lines"] = "References\n" + lines
    env = {**os.environ, "PYTHONPATH": path} if path else dict(os.environ)
    run = subprocess.run(
        [sys.executable, "-c", _REFEXTRACT_CHILD],
        input=json.dumps(sections),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if run.returncode != 0:
        return {"status": f"refextract failed: {run.stderr.strip().splitlines()[-1:]}"}
    found = json.loads(run.stdout)
    stored = _score_refextract(found, folder, docs, "")
    lines = _score_refextract(found, folder, docs, "#our-lines")
    return {"on_stored_text": stored, "on_bala_entry_lines": lines}


def _score_refextract(found: dict, folder: Path, docs: dict[str, Document], suffix: str) -> dict:
    truth = json.loads((folder / TRUTH).read_text(encoding="utf-8"))
    tally = Counter()
    for name, t in truth.items():
        theirs: dict[int, dict] = {}
        for item in found.get(name + suffix, []):
            marker = (item.get("linemarker") or [""])[0]
            if marker.isdigit():
                theirs.setdefault(int(marker), item).setdefault("years", []).extend(
                    item.get("year", [])
                )
        ours = {r.n: r for r in docs[name].references}
        for ref in t["references"]:
            tally["truth"] += 1
            item = theirs.get(ref["n"])
            raw = re.sub(r"^\s*\[?\d+[.\]]?\s*", "", item["raw_ref"][0]) if item else ""
            tally["refextract_exact"] += norm(raw) == norm(ref["printed"])
            tally["refextract_loose"] += bool(raw) and loose(raw) == loose(ref["printed"])
            tally["refextract_year"] += bool(item) and ref["year"] in (item or {}).get("years", [])
            mine = ours.get(ref["n"])
            tally["bala_year"] += bool(mine) and str(mine.year) == ref["year"]
    out = dict(tally)
    for key in ("refextract_exact", "refextract_loose", "refextract_year", "bala_year"):
        out[key + "_rate"] = round(tally[key] / max(1, tally["truth"]), 4)
    return out
