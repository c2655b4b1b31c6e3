"""One settings object for every layer; `BALA_*` environment variables override defaults.

Precedence: CLI flag > environment variable > default here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

DEFAULT_INDEX_DIR = Path.home() / ".local" / "share" / "bala" / "index"


def _env(name: str, default, cast=str):
    raw = os.environ.get(f"BALA_{name.upper()}")
    if raw is None or raw == "":
        return default
    return cast(raw)


@dataclass(frozen=True)
class IngestSettings:
    chunk_size: int = 900  # characters
    chunk_overlap: int = 150  # characters, whole sentences where possible
    pdf_timeout_s: float = 60.0
    pdf_max_memory_mb: int = 1536


@dataclass(frozen=True)
class IndexSettings:
    model_id: str = "sentence-transformers/all-MiniLM-L6-v2"
    backend: str = "onnx-int8"  # onnx-int8 (default, fast) | onnx (fp32) | torch (fp32)
    batch_size: int = 64
    # Corpus size from which an approximate FAISS index replaces the exact flat one.
    approx_from: int = 200_000
    # BM25 saturation and length normalization (bm25s stores scores computed with them, so
    # a change rebuilds the index). Tuned on BioASQ 7B-9B; see index/retrieve.py.
    bm25_k1: float = 0.5
    bm25_b: float = 0.5


@dataclass(frozen=True)
class RetrieveSettings:
    k: int = 10
    candidates: int = 50  # per retriever before fusion
    fusion: str = "convex"  # convex | rrf (see index/retrieve.py)
    dense_weight: float = 0.75  # convex: weight of the cosine; rrf: weight of the dense rank
    bm25_weight: float = 0.25  # convex: weight of BM25 / max BM25; rrf: weight of the BM25 rank
    rrf_k: int = 60
    # Dense pseudo-relevance feedback: the query vector moves toward the softmax-weighted mean
    # of the first pass's top `prf_docs` passages (0 turns it off).
    prf_docs: int = 5
    prf_beta: float = 0.7
    prf_temperature: float = 0.03


@dataclass(frozen=True)
class AnswerSettings:
    max_quotes: int = 5
    # Quotes must score within this of the best one: 0.12 -> 0.08 raised curated citation
    # precision 0.74 -> 0.83 (fewer tangential second sources) for one key-phrase miss.
    quote_margin: float = 0.08
    candidate_chunks: int = 6  # top fused chunks whose sentences compete to be quoted
    max_sentences: int = 16  # of those, how many are embedded and scored (latency bound)
    lexical_weight: float = 0.3  # share of term overlap in a sentence's score
    # Abstain unless the best evidence clears these: calibrated by `bala bench abstention`
    # (eval/calibrate.py) on the curated set and BioASQ questions; see README "Abstention".
    min_cosine: float = 0.49
    min_overlap: float = 0.25
    min_combined: float = 0.0
    # The answer scorer (app/engine/scorer.py): "answer" = the shipped answer model
    # (index/models/answer-scorer; its id is recorded with every answer, and a model other
    # than `scorer_id`, when set, is refused); "legacy" = passage cosine + term overlap.
    scorer: str = "answer"
    scorer_id: str = ""
    # Chosen on BioASQ 10B by `bala train bars` (eval/tune_scorer.py), never on 11B.
    prior_weight: float = 0.0  # score = answer probability + this x 1/passage rank
    quote_bar: float = 0.2  # a further quote below this answer probability is not shown
    answer_margin: float = 0.3  # ... nor one scoring more than this below the first quote
    min_answer: float = 0.0  # abstain ("nothing answers") below this best answer probability
    mismatch_penalty: float = 0.3  # demotion of a quote about another disease or population


@dataclass(frozen=True)
class FetchSettings:
    """`bala fetch` (the one command that uses the network): NCBI endpoints and manners.

    Field names are unique across sections because each is overridden by BALA_<FIELD>."""

    eutils_url: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
    idconv_url: str = "https://pmc.ncbi.nlm.nih.gov/tools/idconv/api/v1/articles/"
    pmc_oa_url: str = "https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi"
    crossref_url: str = "https://api.crossref.org"  # `bala refs --online --crossref`
    ncbi_api_key: str = ""  # also read from NCBI_API_KEY; raises the limit from 3 to 10 req/s
    ncbi_tool: str = "bala"
    ncbi_email: str = ""
    library_dir: str = ""  # downloads; default: a folder `library` beside the index directory
    fetch_batch: int = 200  # ids per efetch request (NCBI: at most 200 on GET)
    fetch_retries: int = 4  # per request, on 429, 5xx and dropped connections
    fetch_backoff_s: float = 1.0  # first retry wait; doubles each time (Retry-After wins)
    fetch_timeout_s: float = 30.0
    fetch_full_text: bool = True  # also PMC open-access JATS where the licence allows


@dataclass(frozen=True)
class Settings:
    index_dir: Path = DEFAULT_INDEX_DIR
    ingest: IngestSettings = field(default_factory=IngestSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    retrieve: RetrieveSettings = field(default_factory=RetrieveSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)

    @property
    def library_dir(self) -> Path:
        """Where `bala fetch` puts downloads: the setting, else `library` beside the index."""
        if self.fetch.library_dir:
            return Path(self.fetch.library_dir).expanduser()
        return self.index_dir.parent / "library"


def _parse_bool(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _fetch_from_env() -> FetchSettings:
    fetch = _section_from_env(FetchSettings())
    if not fetch.ncbi_api_key and os.environ.get("NCBI_API_KEY"):
        fetch = replace(fetch, ncbi_api_key=os.environ["NCBI_API_KEY"])
    return fetch


def _section_from_env(section) -> object:
    """Override each field of a section from BALA_<FIELD> when set."""
    updates = {}
    for f in fields(section):
        current = getattr(section, f.name)
        updates[f.name] = _env(
            f.name, current, _parse_bool if isinstance(current, bool) else type(current)
        )
    return replace(section, **updates)


def load_settings(index_dir: str | Path | None = None) -> Settings:
    """Defaults, then environment, then an explicit index directory (a CLI flag)."""
    base = Settings()
    chosen = index_dir or os.environ.get("BALA_INDEX") or base.index_dir
    return Settings(
        index_dir=Path(chosen).expanduser(),
        ingest=_section_from_env(base.ingest),
        index=_section_from_env(base.index),
        retrieve=_section_from_env(base.retrieve),
        answer=_section_from_env(base.answer),
        fetch=_fetch_from_env(),
    )
