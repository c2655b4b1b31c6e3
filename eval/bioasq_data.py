"""BioASQ Task B golden files loaded into BEIR/TREC shapes.

Golden file: {"questions": [{"id", "body", "type", "documents": [url],
"snippets": [{"text", "document": url ending in a PubMed id, ...}]}]}.

* corpus: the union of the gold snippets of the corpus files, deduplicated by
  (PubMed id, stripped text). Doc id = f"{pmid}:{sha256(stripped text)[:12]}", so ids
  are stable across runs and file orders. Titles are "" (golden files carry none).
* queries: question bodies of the query files; qid = question id. When an id occurs
  in several files the first occurrence (in the order given) wins.
* qrels: each question's snippets mapped to corpus doc ids with grade 1. Snippets not
  in the corpus are dropped; questions left with no relevant doc get no qrels entry.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import NamedTuple

from eval.shared import shared_folder

log = logging.getLogger(__name__)

DEFAULT_DIR = shared_folder() / "bench" / "bioasq"
_PMID_RE = re.compile(r"(\d+)\s*$")

Corpus = dict[str, dict[str, str]]
Queries = dict[str, str]
Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class LoadStats:
    """Counts of one load, for logs and reports."""

    snippets: int  # gold snippets read from the corpus files, before dedup
    unique_docs: int  # corpus size after (pmid, text) dedup
    unique_pmids: int
    questions: int  # questions read from the query files, before dedup
    unique_questions: int
    duplicate_questions: int  # later occurrences of an already seen id, dropped
    questions_without_qrels: int


class BioASQData(NamedTuple):
    corpus: Corpus
    queries: Queries
    qrels: Qrels
    stats: LoadStats


def golden_files(directory: Path = DEFAULT_DIR) -> list[Path]:
    """All `*_golden.json` files of a directory, sorted by name."""
    return sorted(Path(directory).glob("*_golden.json"))


def pmid_of(url: str) -> str:
    """PubMed id at the end of a BioASQ document url."""
    m = _PMID_RE.search(url)
    if not m:
        raise ValueError(f"no PubMed id at the end of {url!r}")
    return m.group(1)


def snippet_doc_id(pmid: str, text: str) -> str:
    """Stable doc id of a snippet: pmid plus 12 hex of sha256(stripped text)."""
    digest = sha256(text.strip().encode("utf-8")).hexdigest()[:12]
    return f"{pmid}:{digest}"


def _questions(path: Path) -> list[dict]:
    """The questions of a golden file; a file that is not one is a ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("questions", []), list):
        raise ValueError(f"{path}: not a BioASQ golden file (no questions list)")
    return data.get("questions", [])


def _snippet_keys(question: Mapping) -> Iterable[tuple[str, str]]:
    for snip in question.get("snippets") or []:
        text = (snip.get("text") or "").strip()
        if text:
            yield pmid_of(snip["document"]), text


def build_corpus(corpus_files: Iterable[Path]) -> tuple[Corpus, int]:
    """Deduplicated snippet corpus of the files and the raw snippet count."""
    corpus: Corpus = {}
    n_snippets = 0
    for path in corpus_files:
        for question in _questions(path):
            for pmid, text in _snippet_keys(question):
                n_snippets += 1
                doc_id = snippet_doc_id(pmid, text)
                corpus.setdefault(doc_id, {"title": "", "text": text, "pmid": pmid})
    return corpus, n_snippets


def load_bioasq_full(corpus_files: Iterable[Path], query_files: Iterable[Path]) -> BioASQData:
    """Corpus, queries, qrels and load counts (see the module docstring)."""
    corpus, n_snippets = build_corpus(corpus_files)
    queries: Queries = {}
    qrels: Qrels = {}
    n_questions = duplicates = no_qrels = 0
    for path in query_files:
        for question in _questions(path):
            n_questions += 1
            qid = str(question["id"])
            if qid in queries:
                duplicates += 1
                continue
            queries[qid] = question["body"]
            rels = {
                doc_id: 1
                for doc_id in (snippet_doc_id(p, t) for p, t in _snippet_keys(question))
                if doc_id in corpus
            }
            if rels:
                qrels[qid] = rels
            else:
                no_qrels += 1
    if duplicates:
        log.warning("BioASQ: %d duplicate question ids dropped", duplicates)
    stats = LoadStats(
        snippets=n_snippets,
        unique_docs=len(corpus),
        unique_pmids=len({d["pmid"] for d in corpus.values()}),
        questions=n_questions,
        unique_questions=len(queries),
        duplicate_questions=duplicates,
        questions_without_qrels=no_qrels,
    )
    return BioASQData(corpus, queries, qrels, stats)


def load_bioasq(
    corpus_files: Iterable[Path], query_files: Iterable[Path]
) -> tuple[Corpus, Queries, Qrels]:
    """(corpus, queries, qrels) in BEIR shapes; counts via `load_bioasq_full`."""
    data = load_bioasq_full(corpus_files, query_files)
    return data.corpus, data.queries, data.qrels


def _pmid_of_doc(doc_id: str, corpus: Mapping[str, Mapping[str, str]]) -> str:
    doc = corpus.get(doc_id)
    return doc["pmid"] if doc is not None else doc_id.split(":", 1)[0]


def doc_qrels(qrels: Mapping[str, Mapping[str, int]], corpus: Mapping) -> Qrels:
    """Snippet qrels lifted to PubMed-id level (max grade per pmid)."""
    out: Qrels = {}
    for qid, rels in qrels.items():
        lifted: dict[str, int] = {}
        for doc_id, grade in rels.items():
            pmid = _pmid_of_doc(doc_id, corpus)
            lifted[pmid] = max(grade, lifted.get(pmid, grade))
        out[qid] = lifted
    return out


def to_doc_run(
    run: Mapping[str, Mapping[str, float]], corpus: Mapping
) -> dict[str, dict[str, float]]:
    """Snippet run lifted to PubMed-id level (max score per pmid)."""
    out: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        lifted: dict[str, float] = {}
        for doc_id, score in scores.items():
            pmid = _pmid_of_doc(doc_id, corpus)
            lifted[pmid] = max(score, lifted.get(pmid, score))
        out[qid] = lifted
    return out


def subset(
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    n: int,
    seed: int = 0,
) -> tuple[Queries, Qrels]:
    """Fixed sample of n judged queries: sorted ids, then random.Random(seed).sample.

    Only queries with >= 1 relevant doc are eligible; the result is sorted by id.
    """
    eligible = sorted(q for q in queries if any(g > 0 for g in qrels.get(q, {}).values()))
    picked = sorted(random.Random(seed).sample(eligible, min(n, len(eligible))))
    return (
        {q: queries[q] for q in picked},
        {q: dict(qrels[q]) for q in picked},
    )


def main() -> None:
    """Print the counts of all golden files used as both corpus and queries."""
    files = golden_files()
    stats = load_bioasq_full(files, files).stats
    print(f"files: {len(files)}")
    for name, value in vars(stats).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
