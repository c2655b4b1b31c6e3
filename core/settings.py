"""One settings object for every layer: frozen pydantic models, read with pydantic-settings.

Precedence: CLI flag > environment variable > default here. Each field of a section is read
from `BALA_<FIELD>` (the flat names the README and docs list; field names are unique across
sections, which tests/test_settings.py checks) or from pydantic-settings' nested form
`BALA_<SECTION>__<FIELD>` (which wins when both are set). The index directory is `BALA_INDEX`;
the NCBI key is also read from `NCBI_API_KEY`. An empty variable counts as unset.

Values are validated: a bad `BALA_` value raises SettingsError naming the variable (the CLI
prints it and exits 2). Change a copy with `settings.replace(...)`, which validates too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_INDEX_DIR = Path.home() / ".local" / "share" / "bala" / "index"
DEFAULT_ONNX_DIR = Path.home() / ".cache" / "bala" / "onnx"
ENV_PREFIX = "BALA_"
NESTED = "__"
INDEX_DIR_VAR = "BALA_INDEX"


class SettingsError(ValueError):
    """A setting (usually a `BALA_` environment variable) has a value that cannot be used."""


class _Frozen(BaseModel):
    """Immutable, validated, no unknown fields; `replace` is the one way to change a copy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def replace(self, **changes: Any):
        """A validated copy with `changes`; a dict given for a section updates that section
        (`settings.replace(answer={"scorer": "legacy"})`)."""
        return replace_settings(self, **changes)


class IngestSettings(_Frozen):
    chunk_size: int = 900  # characters
    chunk_overlap: int = 150  # characters, whole sentences where possible
    pdf_timeout_s: float = 60.0
    pdf_max_memory_mb: int = 1536


class IndexSettings(_Frozen):
    model_id: str = "sentence-transformers/all-MiniLM-L6-v2"
    backend: Literal["onnx-int8", "onnx", "torch"] = "onnx-int8"  # int8 = default, fast
    batch_size: int = 64
    # Corpus size from which an approximate FAISS index replaces the exact flat one.
    approx_from: int = 200_000
    # BM25 saturation and length normalization (bm25s stores scores computed with them, so
    # a change rebuilds the index). Tuned on BioASQ 7B-9B; see index/retrieve.py.
    bm25_k1: float = 0.5
    bm25_b: float = 0.5
    # The search engine that serves queries (index/retriever.py): "local" = FAISS + bm25s +
    # SQLite in the index directory; "milvus" = a Milvus collection per build at milvus_uri
    # (`bala ingest` then also writes it). docs/engines.md.
    engine: Literal["local", "milvus"] = "local"
    milvus_uri: str = "http://127.0.0.1:19530"
    milvus_timeout_s: float = 5.0  # connecting and each call; unreachable -> a clear error
    # Where the ONNX model exported from the bundled weights is cached ("" = DEFAULT_ONNX_DIR).
    onnx_dir: str = ""

    @property
    def onnx_cache_dir(self) -> Path:
        return Path(self.onnx_dir).expanduser() if self.onnx_dir else DEFAULT_ONNX_DIR


class RetrieveSettings(_Frozen):
    k: int = 10
    candidates: int = 50  # per retriever before fusion
    fusion: Literal["convex", "rrf"] = "convex"  # see index/retrieve.py
    dense_weight: float = 0.75  # convex: weight of the cosine; rrf: weight of the dense rank
    bm25_weight: float = 0.25  # convex: weight of BM25 / max BM25; rrf: weight of the BM25 rank
    rrf_k: int = 60
    # Dense pseudo-relevance feedback: the query vector moves toward the softmax-weighted mean
    # of the first pass's top `prf_docs` passages (0 turns it off).
    prf_docs: int = 5
    prf_beta: float = 0.7
    prf_temperature: float = 0.03


class AnswerSettings(_Frozen):
    max_quotes: int = 5
    # Quotes must score within this of the best one: 0.12 -> 0.08 raised curated citation
    # precision 0.74 -> 0.83 (fewer tangential second sources) for one key-phrase miss.
    quote_margin: float = 0.08
    candidate_chunks: int = 6  # top fused chunks whose sentences compete to be quoted
    max_sentences: int = 8  # of those, how many are scored (16 scored the same, slower)
    # A question word the model's WordPiece splits into >= this many pieces ("haploidentical")
    # and no indexed passage contains makes the question off-topic (app/engine/coverage.
    # specialized_absent; 0 = off).
    rare_word_pieces: int = 4
    lexical_weight: float = 0.3  # share of term overlap in a sentence's score
    # Abstain unless the best evidence clears these: calibrated by `bala bench abstention`
    # (eval/calibrate.py) on the curated set and BioASQ questions over the demo library, with
    # `min_answer` below (answer scorer of issue 10); see README "Abstention".
    min_cosine: float = 0.53
    min_overlap: float = 0.2
    min_combined: float = 0.0
    # The answer scorer (app/engine/scorer.py): "answer" = the shipped answer model
    # (index/models/answer-scorer; its id is recorded with every answer, and a model other
    # than `scorer_id`, when set, is refused); "legacy" = passage cosine + term overlap;
    # "features" = the answer features without a model (a benchmark baseline).
    scorer: Literal["answer", "legacy", "features"] = "answer"
    scorer_id: str = ""
    # Chosen on BioASQ 10B by `bala train bars` (eval/tune_scorer.py), never on 11B.
    prior_weight: float = 0.0  # score = answer probability + this x 1/passage rank
    quote_bar: float = 0.2  # a further quote below this answer probability is not shown
    answer_margin: float = 0.3  # ... nor one scoring more than this below the first quote
    # At most this many quotes from one source (a source's next one only after every other
    # qualifying source has had its turn). 2 -> 3: the review's third-best sentence, the one
    # listing the options after a CD19-negative relapse, had lost its place to a DLBCL trial.
    quotes_per_source: int = Field(default=3, ge=1)
    min_answer: float = 0.2  # abstain ("nothing answers") below this best answer probability
    # (calibrated with min_cosine/min_overlap above; quote_bar 0.2 from `bala train bars`)
    # A best passage under min_cosine is still on topic when it is at least `rescue_cosine`,
    # its best sentence covers `rescue_overlap` of the question's terms and the answer model
    # gives it `rescue_answer` (core/abstain.Rescue; calibrated with the bars above).
    rescue_cosine: float = 0.46
    rescue_overlap: float = 0.6
    rescue_answer: float = 0.3
    mismatch_penalty: float = 0.3  # demotion of a quote about another disease or population
    # demotion of a BACKGROUND/OBJECTIVE/METHODS sentence, or of a title when its paper's
    # RESULTS/CONCLUSIONS sentence competes (app/engine/scorer.background)
    background_penalty: float = 0.3
    # What a question naming no disease is about (app/engine/population.py); "" = nothing in
    # particular (the BioASQ bench library, which is not a B-ALL library).
    domain: str = "B-ALL"


class FetchSettings(_Frozen):
    """`bala fetch` (the one command that uses the network): NCBI endpoints and manners.

    Field names are unique across sections because each is overridden by BALA_<FIELD>."""

    eutils_url: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
    idconv_url: str = "https://pmc.ncbi.nlm.nih.gov/tools/idconv/api/v1/articles/"
    pmc_oa_url: str = "https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi"
    crossref_url: str = "https://api.crossref.org"  # `bala refs --online --crossref`
    # Requests per second to Crossref, paced apart from NCBI's limit (Crossref states the
    # limit of each pool in its x-rate-limit-limit / x-rate-limit-interval answer headers).
    crossref_rate: float = Field(default=5.0, gt=0)
    ncbi_api_key: str = ""  # also read from NCBI_API_KEY; raises the limit from 3 to 10 req/s
    ncbi_tool: str = "bala"
    ncbi_email: str = ""
    library_dir: str = ""  # downloads; default: a folder `library` beside the index directory
    fetch_batch: int = 200  # ids per efetch request (NCBI: at most 200 on GET)
    fetch_retries: int = 4  # per request, on 429, 5xx and dropped connections
    fetch_backoff_s: float = 1.0  # first retry wait; doubles each time (Retry-After wins)
    fetch_timeout_s: float = 30.0
    fetch_full_text: bool = True  # also PMC open-access JATS where the licence allows


class ServeSettings(_Frozen):
    """`bala serve` and the app it runs."""

    # The header an authenticating reverse proxy sets to the signed-in user's id ("" = no
    # proxy); `bala serve --auth-proxy-header` wins, and passes it on to the app.
    auth_proxy_header: str = ""


class Settings(BaseSettings):
    """Everything configurable. `Settings()` reads the environment; a section built on its
    own (`RetrieveSettings()`) holds the defaults only."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED, frozen=True, extra="forbid"
    )

    index_dir: Path = DEFAULT_INDEX_DIR
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    @field_validator("index_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def library_dir(self) -> Path:
        """Where `bala fetch` puts downloads: the setting, else `library` beside the index."""
        if self.fetch.library_dir:
            return Path(self.fetch.library_dir).expanduser()
        return self.index_dir.parent / "library"

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with `changes`; a dict given for a section updates that section."""
        return replace_settings(self, **changes)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_unused):
        """Explicit values, then the BALA_ environment (no .env or secrets files)."""
        return (init_settings, BalaEnvSource(settings_cls))


def sections() -> dict[str, type[BaseModel]]:
    """Section name -> its class, in declaration order."""
    return {
        name: info.annotation
        for name, info in Settings.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    }


def env_names(section: str, name: str) -> tuple[str, str]:
    """The variables that set `section.name`: nested form first (it wins), then flat."""
    nested = f"{ENV_PREFIX}{section.upper()}{NESTED}{name.upper()}"
    return nested, f"{ENV_PREFIX}{name.upper()}"


def env_values(environ=None) -> tuple[dict, dict]:
    """(values by section, the variable each value came from) read from the environment."""
    env = {k.upper(): v for k, v in (os.environ if environ is None else environ).items() if v}
    values: dict[str, Any] = {}
    origins: dict[tuple, str] = {}
    if INDEX_DIR_VAR in env:
        values["index_dir"] = env[INDEX_DIR_VAR]
        origins[("index_dir",)] = INDEX_DIR_VAR
    for section, cls in sections().items():
        for name in cls.model_fields:
            for var in env_names(section, name):
                if var in env:
                    values.setdefault(section, {})[name] = env[var]
                    origins[(section, name)] = var
                    break
    if "ncbi_api_key" not in values.get("fetch", {}) and env.get("NCBI_API_KEY"):
        values.setdefault("fetch", {})["ncbi_api_key"] = env["NCBI_API_KEY"]
        origins[("fetch", "ncbi_api_key")] = "NCBI_API_KEY"
    return values, origins


class BalaEnvSource(PydanticBaseSettingsSource):
    """pydantic-settings source for bala's variable names (see the module docstring)."""

    def get_field_value(self, field, field_name):  # required by the base class; unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return env_values()[0]


def _explain(error: ValidationError, origins: dict[tuple, str], owner: str = "Settings") -> str:
    """One line per bad value, naming the variable it came from (else `owner.field`)."""
    lines = []
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"])
        where = origins.get(loc[:2]) or origins.get(loc[:1]) or ".".join((owner, *loc))
        lines.append(f"{where}={item.get('input')!r}: {item['msg']}")
    return "invalid setting: " + "; ".join(lines)


def load_settings(index_dir: str | Path | None = None) -> Settings:
    """Defaults, then environment, then an explicit index directory (a CLI flag)."""
    explicit = {"index_dir": Path(index_dir)} if index_dir else {}
    try:
        return Settings(**explicit)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, env_values()[1])) from None


def replace_settings(model, **changes: Any):
    """A validated copy of a settings model (or section) with `changes` applied."""
    cls = type(model)
    unknown = sorted(set(changes) - set(cls.model_fields))
    if unknown:
        raise TypeError(f"{cls.__name__} has no setting {', '.join(unknown)}")
    merged = dict(model)
    for name, value in changes.items():
        current = merged[name]
        if isinstance(value, dict) and isinstance(current, BaseModel):
            value = replace_settings(current, **value)
        merged[name] = value
    try:
        return cls.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, {}, cls.__name__)) from None


def describe_settings(settings: Settings, environ=None) -> list[dict]:
    """Every setting: its variable, its value and where the value came from (`bala settings`)."""
    origins = env_values(environ)[1]
    rows = [_row("index_dir", INDEX_DIR_VAR, settings.index_dir, origins.get(("index_dir",)))]
    for section in sections():
        for name in type(getattr(settings, section)).model_fields:
            value = getattr(getattr(settings, section), name)
            rows.append(
                _row(
                    f"{section}.{name}",
                    env_names(section, name)[1],
                    value,
                    origins.get((section, name)),
                )
            )
    return rows


def _row(setting: str, variable: str, value, origin: str | None) -> dict:
    secret = "api_key" in setting and value
    shown = "(set)" if secret else str(value) if isinstance(value, Path) else value
    return {"setting": setting, "variable": variable, "value": shown, "from": origin or "default"}


def onnx_threads(environ=None) -> int:
    """ONNX Runtime intra-op threads: `BALA_THREADS` (a whole number >= 1), else the CPU count."""
    raw = (os.environ if environ is None else environ).get("BALA_THREADS", "")
    if not raw:
        return os.cpu_count() or 2
    if not raw.strip().isdigit() or int(raw) < 1:
        raise SettingsError(f"invalid setting: BALA_THREADS={raw!r}: should be a whole number >= 1")
    return int(raw)
