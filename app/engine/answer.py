"""The answer engine behind `bala ask`, the app and the eval: retrieve, quote, verify, cite."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from app.engine.answer_types import ABSTAIN_MESSAGE, Answer, CitedSource, Quote
from app.engine.cited import attach_cited_evidence
from app.engine.compose import (
    Scored,
    candidates_from_hits,
    merge_runs,
    preselect,
    question_terms,
    score_candidates,
    select_quotes,
    should_abstain,
)
from app.engine.coverage import missing_terms, named_terms
from core.settings import AnswerSettings, Settings
from index.embed import Embedder, load_embedder
from index.lexical import idf_table
from index.loaded import LoadedIndex, open_index
from index.retrieve import Filters, Hit, search

CLOSEST_SHOWN = 3


@dataclass(frozen=True)
class Evidence:
    """Scored quote candidates of a question and the named terms no passage mentions."""

    scored: tuple[Scored, ...]
    missing: tuple[str, ...]

    @property
    def best_cosine(self) -> float:
        return max((s.cosine for s in self.scored), default=0.0)

    @property
    def best_overlap(self) -> float:
        return max((s.overlap for s in self.scored), default=0.0)

    def abstain(self, cfg: AnswerSettings) -> bool:
        weak = should_abstain(list(self.scored), cfg.min_cosine, cfg.min_overlap, cfg.min_combined)
        return weak or bool(self.missing)


class Engine:
    """A loaded index plus the embedding model; thread-safe for concurrent questions."""

    def __init__(self, settings: Settings, loaded: LoadedIndex | None = None, embedder=None):
        self.settings = settings
        self.loaded = loaded or open_index(settings)
        self.embedder: Embedder = embedder or load_embedder(settings.index)
        self.idf = idf_table(self.loaded.bm25)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # torch modules are not re-entrant across threads
            return self.embedder.encode(texts)

    def retrieve(self, question: str, k: int | None = None, filters: Filters = Filters()):
        """Fused hits for a question, after clinical-vocabulary normalization."""
        return self._retrieve(question, k, filters)[0]

    def _retrieve(self, question: str, k: int | None, filters: Filters):
        return search(self.loaded, self.embed, question, self.settings.retrieve, k, filters)

    def ask(self, question: str, k: int | None = None, filters: Filters = Filters()) -> Answer:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        question = question.strip()
        hits, query_vec = self._retrieve(question, k, filters) if question else ([], None)
        timings["retrieve"] = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        evidence = self._evidence(question, query_vec, hits)
        if evidence.abstain(self.settings.answer):
            answer = replace(self._abstention(question, hits), missing_terms=evidence.missing)
        else:
            answer = self._compose(question, list(evidence.scored))
        timings["compose"] = (time.perf_counter() - t1) * 1000
        answer = attach_cited_evidence(self, question, answer)  # app/engine/cited.py
        timings["total"] = (time.perf_counter() - t0) * 1000
        return replace(answer, timings_ms=timings)

    def evidence(self, question: str) -> Evidence:
        """How strong the best evidence for a question is (what abstention decides on)."""
        hits, query_vec = self._retrieve(question.strip(), None, Filters())
        return self._evidence(question.strip(), query_vec, hits)

    def _evidence(self, question: str, query_vec, hits: list[Hit]) -> Evidence:
        """Quote candidates only from passages that mention what the question names.

        A passage is read together with its source's title ("B-ALL" in a review's title
        counts for each of its chunks) and must mention every named term (drug, antigen,
        gene, disease, toxicity) when the question names one or two, all but one when it
        names more. When no top passage qualifies, the evidence is tangential: nothing is
        scored and the uncovered terms are reported.
        """
        top = hits[: self.settings.answer.candidate_chunks]
        sources = self.loaded.store.sources
        contexts = [f"{sources[h.chunk.source_id].title}\n{h.chunk.text}" for h in top]
        nowhere = missing_terms(question, contexts)
        gaps = [missing_terms(question, [c]) for c in contexts]
        allowed = 0 if len(named_terms(question)) <= 2 else 1
        covering = [h for h, gap in zip(top, gaps) if len(gap) <= allowed]
        if nowhere or not covering:
            return Evidence((), tuple(nowhere or min(gaps, key=len, default=[])))
        return Evidence(tuple(self._score(question, query_vec, covering)), ())

    def _score(self, question: str, query_vec, hits: list[Hit]) -> list[Scored]:
        """Candidate sentences scored by their passage's cosine to the query and term overlap.

        The passage vectors come from the index itself, so answering costs one model call
        (the query) whatever the number of candidate sentences.
        """
        cfg = self.settings.answer
        terms = question_terms(question)
        cands = candidates_from_hits(hits, cfg.candidate_chunks)
        cands = preselect(cands, terms, self.idf, cfg.max_sentences)
        if not cands:
            return []
        rows = {h.chunk.chunk_id: h.row for h in hits}
        vectors = {cid: self.loaded.faiss_index.reconstruct(row) for cid, row in rows.items()}
        cosines = np.array([float(vectors[c.chunk_id] @ query_vec) for c in cands])
        return score_candidates(cands, cosines, terms, self.idf, cfg.lexical_weight)

    def _compose(self, question: str, scored: list[Scored]) -> Answer:
        cfg = self.settings.answer
        supported = [
            s for s in scored if s.cosine >= cfg.min_cosine and s.overlap >= cfg.min_overlap
        ]
        picked = merge_runs(
            select_quotes(supported or scored[:1], cfg.max_quotes, margin=cfg.quote_margin)
        )
        quotes, numbers, dropped = [], {}, 0
        store = self.loaded.store
        for s in picked:
            c = s.candidate
            text = c.text or store.document(c.source_id).text[c.start : c.end]
            if store.stored_slice(c.source_id, c.start, c.end) != text:
                dropped += 1  # never show a quote that is not verbatim
                continue
            number = numbers.setdefault(c.source_id, len(numbers) + 1)
            quotes.append(
                Quote(text, c.source_id, c.start, c.end, c.page, number, s.score, c.chunk_id)
            )
        if not quotes:
            return self._abstention(question, [])
        sources = tuple(CitedSource(n, store.sources[sid]) for sid, n in numbers.items())
        message = f"{len(quotes)} verbatim quote(s) from {len(sources)} source(s)"
        return Answer(
            question,
            False,
            message,
            tuple(quotes),
            sources,
            self.loaded.build_id,
            dropped_quotes=dropped,
        )

    def _abstention(self, question: str, hits: list[Hit]) -> Answer:
        closest: list[str] = []
        for hit in hits:
            if hit.chunk.source_id not in closest:
                closest.append(hit.chunk.source_id)
            if len(closest) == CLOSEST_SHOWN:
                break
        sources = tuple(
            CitedSource(i, self.loaded.store.sources[sid], supporting=False)
            for i, sid in enumerate(closest, start=1)
        )
        return Answer(question, True, ABSTAIN_MESSAGE, (), sources, self.loaded.build_id)


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """One engine per index directory and build per process."""
    key = str(settings.index_dir)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None or engine.settings != settings:
            engine = Engine(settings)
            _ENGINES[key] = engine
        return engine


def answer_question(
    question: str, settings: Settings, k: int | None = None, filters: Filters = Filters()
) -> Answer:
    return get_engine(settings).ask(question, k=k, filters=filters)
