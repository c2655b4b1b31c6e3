"""`bala bench medline`: a baseline-size MEDLINE file (30,000 records: the shared sample's 604
records repeated with new PMIDs and DOIs, each copy's texts marked so that none repeats)
against the same passages as JSONL, in one run.

Each format is loaded in its own child process (so peak memory is its own): the file is
parsed by bala's loader and every document chunked, which is the part of `bala ingest` that
differs between formats (embedding and indexing cost the same per passage whatever the
format). Reports passages/s of each, their ratio, and the peak RSS growth over the child's
resident size before loading, by wall clock and by CPU time. `--full` also times the whole `bala ingest` path (embedding
included) for both formats on a fresh index each.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import time
from pathlib import Path

from eval.shared import print_result, run_in_child, shared_folder

RECORDS = 30_000
SAMPLE = ("fixtures", "pubmed", "medline16n0902.xml.gz")


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident size (VmRSS), or its peak (VmHWM), in MB. The peak is read
    here rather than from getrusage's ru_maxrss, which a child started by a large process
    inherits (fork copies the parent's high-water mark and exec keeps it), so the bench
    run from a big parent, e.g. pytest, would report the parent's size as growth."""
    with open("/proc/self/status") as handle:
        line = next(x for x in handle if x.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def _sample_citations(sample: Path) -> list[bytes]:
    from lxml import etree

    root = etree.parse(gzip.open(sample)).getroot()
    for elem in root.iter("DeleteCitation"):
        elem.getparent().remove(elem)
    return [etree.tostring(c) for c in root.iter("MedlineCitation")]


_SENTENCE_END = re.compile(r"(?<=[.!?]) ")


def _mark_text(elem, marker: str) -> None:
    """`marker` at the start of the text an element shows and after each of its sentences,
    so that every piece of a part cut by sentences carries it."""
    elem.text = f"{marker} {_SENTENCE_END.sub(f' {marker} ', elem.text or '')}"
    for child in elem:
        child.tail = _SENTENCE_END.sub(f" {marker} ", child.tail or "")


def _renumbered(citation: bytes, copy: int, index: int) -> bytes:
    """A sample record as copy `copy`: a new PMID, a DOI marked with the copy number, and
    (from the second copy on) "[copy N]" before its title and before each sentence of its
    abstract, so that records share no passage. A real baseline file holds distinct
    abstracts; with verbatim repeats the whole-ingest timing would take nearly every
    embedding from the cache and time everything but embedding."""
    from lxml import etree

    elem = etree.fromstring(citation)
    elem.find("PMID").text = str(90_000_000 + index)
    for loc in elem.iter("ELocationID"):
        if loc.get("EIdType") == "doi":
            loc.text = f"{loc.text}.copy{copy}"
    if copy:
        for part in (*elem.iter("ArticleTitle"), *elem.iter("AbstractText")):
            _mark_text(part, f"[copy {copy}]")
    return etree.tostring(elem)


def make_inputs(folder: Path, records: int, sample: Path) -> tuple[Path, Path]:
    """(MEDLINE .xml.gz of `records` citations, JSONL of the same passages)."""
    from core.settings import IngestSettings
    from ingest.medline import iter_medline, record_document

    citations = _sample_citations(sample)
    medline = folder / "baseline.xml.gz"
    with gzip.open(medline, "wb", compresslevel=1) as out:
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<MedlineCitationSet>\n')
        for i in range(records):
            out.write(_renumbered(citations[i % len(citations)], i // len(citations), i) + b"\n")
        out.write(b"</MedlineCitationSet>\n")
    cfg = IngestSettings()
    jsonl = folder / "baseline.jsonl"
    with open(jsonl, "w", encoding="utf-8") as out:
        for record in iter_medline(medline):
            doc = record_document(record, "", "", cfg.chunk_size, cfg.chunk_overlap)
            for start, end, section in doc.fixed_spans:
                row = {"pmid": record.pmid, "section": section, "begin": start}
                out.write(json.dumps({**row, "text": doc.text[start:end]}) + "\n")
    return medline, jsonl


def _child_load(path: str) -> None:
    """In a fresh interpreter: load and chunk one file; print passages, seconds, memory."""
    from core.settings import IngestSettings
    from ingest.chunking import chunk_document
    from ingest.loaders import load_file

    cfg = IngestSettings()
    load_file(Path(path).with_name("warm.jsonl"), "warm", cfg)
    before = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    result = load_file(Path(path), "sha", cfg)
    passages = sum(
        len(chunk_document(d, cfg.chunk_size, cfg.chunk_overlap)) for d in result.documents
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _rss_mb("VmHWM")
    out = {"sources": len(result.documents), "passages": passages, "seconds": seconds}
    out |= {"cpu_seconds": cpu, "rss_before_mb": before, "peak_rss_growth_mb": peak - before}
    print(json.dumps(out))


def _child_ingest(path: str, index_dir: str) -> None:
    """In a fresh interpreter: the whole `bala ingest` of one file into a fresh index, with
    the peak RSS growth over the interpreter's size before it (the embedding model's load
    included)."""
    from core.settings import load_settings
    from index.build import ingest_paths

    settings = load_settings(Path(index_dir))
    before = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    report = ingest_paths([Path(path)], settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    out = {"passages": report.added_chunks, "seconds": seconds, "cpu_seconds": cpu}
    out |= {"rss_before_mb": before, "peak_rss_growth_mb": _rss_mb("VmHWM") - before}
    print(json.dumps(out))


def run_medline_bench(records: int = RECORDS, full: bool = False) -> dict:
    sample = shared_folder().joinpath(*SAMPLE)
    if not sample.is_file():
        raise FileNotFoundError(f"the MEDLINE sample {sample} is absent (set BALA_SHARED)")
    result: dict = {"records": records, "sample": str(sample)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        medline, jsonl = make_inputs(folder, records, sample)
        result["make_inputs_s"] = time.perf_counter() - started
        result["file_mb"] = {
            "medline_xml_gz": medline.stat().st_size / 2**20,
            "jsonl": jsonl.stat().st_size / 2**20,
        }
        warm = {"pmid": "1", "section": "abstract", "text": "Warm up."}
        (folder / "warm.jsonl").write_text(json.dumps(warm) + "\n", encoding="utf-8")
        for name, path in (("medline", medline), ("jsonl", jsonl)):
            stats = _rates(run_in_child("eval.bench_medline", "_child_load", str(path)))
            result[name] = stats
            if full:
                index = folder / f"index-{name}"
                ingest = run_in_child("eval.bench_medline", "_child_ingest", str(path), str(index))
                result[name]["whole_ingest"] = _rates(ingest)
    med, js = result["medline"], result["jsonl"]
    result |= _ratios("speed_ratio", med, js)
    if full:
        result |= _ratios("whole_ingest_ratio", med["whole_ingest"], js["whole_ingest"])
    result["targets"] = {"peak_rss_growth_mb": 500, "speed_ratio_medline_to_jsonl": 1.0}
    parts = (med, js, med.get("whole_ingest", {}), js.get("whole_ingest", {}))
    growth = max(part.get("peak_rss_growth_mb", 0.0) for part in parts)
    result["peak_rss_growth_ok"] = growth < result["targets"]["peak_rss_growth_mb"]
    return result


def _rates(stats: dict) -> dict:
    """Passages per wall-clock second and per CPU second (the steadier figure on a machine
    shared with other work: wall-clock rates swing 2x between runs there)."""
    return {
        **stats,
        "passages_per_s": stats["passages"] / stats["seconds"],
        "passages_per_cpu_s": stats["passages"] / stats["cpu_seconds"],
    }


def _ratios(name: str, med: dict, js: dict) -> dict:
    """`<name>_medline_to_jsonl` (wall clock) and `<name>_cpu_medline_to_jsonl` (CPU time)."""
    return {
        f"{name}_medline_to_jsonl": med["passages_per_s"] / js["passages_per_s"],
        f"{name}_cpu_medline_to_jsonl": med["passages_per_cpu_s"] / js["passages_per_cpu_s"],
    }


def _cmd(args) -> int:
    result = run_medline_bench(args.records, args.full)
    print_result(result, args.json)
    return 0


def register_bench(bench_sub) -> None:
    p = bench_sub.add_parser("medline", help="MEDLINE XML ingest speed and memory vs JSONL")
    p.add_argument("--records", type=int, default=RECORDS, help="citations in the file")
    p.add_argument("--full", action="store_true", help="also time the whole ingest path")
    p.add_argument("--json", metavar="OUT")
    p.set_defaults(func=_cmd)
