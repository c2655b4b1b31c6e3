"""The answer engine behind `bala ask`, the app and the eval: retrieve, quote, verify, cite."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from app.engine.answer_types import ABSTAIN_MESSAGE, NO_ANSWER_MESSAGE, Answer, CitedSource, Quote
from app.engine.cited import attach_cited_evidence
from app.engine.compose import (
    Candidate,
    Scored,
    candidates_from_hits,
    choose_quotes,
    following_candidates,
    preselect,
    score_candidates,
    widen_first,
)
from app.engine.coverage import (
    covers_enough,
    is_drug_name,
    missing_in_library,
    missing_terms,
    specialized_absent,
    written_in_library,
)
from app.engine.evidence_filter import is_non_evidence
from app.engine.population import context_diseases, implied_domain, mismatch
from app.engine.query import Query, analyse, names_term, speaks_of
from app.engine.scorer import rescore, uses_sentence_vectors
from app.engine.sentences import ends_mid, starts_mid
from core.abstain import ANSWER, NO_ANSWER, Strength, decide, rescue_of
from core.settings import AnswerSettings, Settings
from index.embed import Embedder, load_embedder
from index.model import wordpiece_counter
from index.retrieve import Filters, Hit, search
from index.retriever import Retriever, open_retriever

CLOSEST_SHOWN = 3
TERM_WINDOW = 600  # characters of stored text either side of a passage for the term check
FOLLOW_GAP = 3  # at most this many characters (whitespace) between a chunk and the next one


@dataclass(frozen=True)
class Evidence:
    """Scored quote candidates of a question and how strong the best of them is."""

    scored: tuple[Scored, ...]
    strength: Strength
    passages: tuple[tuple[str, int, str], ...] = ()  # (chunk id, start, text) scored from

    @property
    def missing(self) -> tuple[str, ...]:
        return self.strength.missing_in_library

    def verdict(self, cfg: AnswerSettings) -> str:
        bars = (cfg.min_cosine, cfg.min_overlap, cfg.min_combined, cfg.min_answer)
        return decide(self.strength, *bars, rescue=rescue_of(cfg))


class Engine:
    """A retriever (any engine), the embedding model and the answer scorer; thread-safe."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None, embedder=None):
        self.settings = settings
        self.retriever = retriever or open_retriever(settings)
        self.embedder: Embedder = embedder or load_embedder(settings.index)
        self.idf = self.retriever.idf()
        self._pieces = wordpiece_counter()
        self.scorer = _load_scorer(settings.answer)
        self._lock = threading.Lock()
        self._model = self.scorer  # the model `_score` applies (features() swaps in none)

    @property
    def scorer_id(self) -> str:
        return self.scorer.id if self.scorer is not None else "legacy"

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # torch modules are not re-entrant across threads
            return self.embedder.encode(texts)

    def retrieve(self, question: str, k: int | None = None, filters: Filters = Filters()):
        """Fused hits for a question, after clinical-vocabulary normalization."""
        return self._retrieve(question, k, filters)[0]

    def _retrieve(self, question: str, k: int | None, filters: Filters):
        return search(self.retriever, self.embed, question, self.settings.retrieve, k, filters)

    def ask(self, question: str, k: int | None = None, filters: Filters = Filters()) -> Answer:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query = analyse(question)
        hits, query_vec = self._retrieve(query.text, k, filters) if query.text else ([], None)
        timings["retrieve"] = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        evidence = self._evidence(query, query_vec, hits, self.scorer)
        verdict = evidence.verdict(self.settings.answer)
        answer = None
        if verdict == ANSWER:
            answer = self._compose(query, evidence)
        if answer is None:
            answer = self._abstention(query, hits, evidence, verdict)
        timings["compose"] = (time.perf_counter() - t1) * 1000
        answer = attach_cited_evidence(self, question, answer)  # app/engine/cited.py
        timings["total"] = (time.perf_counter() - t0) * 1000
        return replace(answer, timings_ms=timings, scorer=self.scorer_id)

    def candidates(self, question: str) -> list[Candidate]:
        """Every sentence of the top retrieved passages: what the scorer chooses among."""
        hits, _ = self._retrieve(question.strip(), None, Filters())
        return candidates_from_hits(hits, self.settings.answer.candidate_chunks)

    def evidence(self, question: str, model=None) -> Evidence:
        """How strong the best evidence for a question is (what abstention decides on)."""
        query = analyse(question)
        hits, query_vec = self._retrieve(query.text, None, Filters())
        return self._evidence(query, query_vec, hits, model or self.scorer)

    def features(self, question: str) -> list[dict]:
        """Each candidate's answer signals (what `bala train scorer` fits the model on)."""
        ev = self.evidence(question, model=_NoModel(self.scorer))
        return [{"text": s.candidate.text, **s.signals} for s in ev.scored if s.signals]

    def _absent_rare_words(self, query: Query) -> tuple[str, ...]:
        """Specialized words of the question in no indexed passage (coverage.specialized_absent)."""
        pieces = self.settings.answer.rare_word_pieces
        return tuple(specialized_absent(query.text, self.idf, self._pieces, pieces))

    def _evidence(self, query: Query, query_vec, hits: list[Hit], model=None) -> Evidence:
        """Quote candidates only from passages that mention what the question names.

        A specialized word of the question that no indexed passage contains ("haploidentical")
        makes it off topic at once. A passage is read together with its source's title and must
        mention every named term when the question names one or two, all but one general
        concept when it names more (`coverage.covers_enough`). A term no top
        passage mentions is looked up in the whole library: absent there, the question is off
        topic; present, the library has the topic but the retrieved passages do not answer
        (and the term is reported as mentioned only when a stored text contains it as
        written, not merely each of its words).
        """
        top = hits[: self.settings.answer.candidate_chunks]
        best_cos = max((h.dense_score or 0.0 for h in top), default=0.0)
        rare = self._absent_rare_words(query)
        if rare:
            strength = Strength(best_cosine=best_cos, has_candidates=False, missing_in_library=rare)
            return Evidence((), strength)
        contexts = [self._term_context(h) for h in top]
        nowhere = missing_terms(query, contexts)
        gaps = [missing_terms(query, [c]) for c in contexts]
        ranked = [
            (r, h) for r, (h, gap) in enumerate(zip(top, gaps), 1) if covers_enough(gap, query)
        ]
        covering, ranks = [h for _, h in ranked], [r for r, _ in ranked]
        if nowhere or not covering:
            unseen = tuple(nowhere or min(gaps, key=len, default=[]))
            absent = tuple(
                missing_in_library(unseen, query, self.idf, self.retriever.catalogue.mentions)
            )
            strength = Strength(
                best_cosine=best_cos,
                has_candidates=False,
                missing_in_library=absent,
                missing_in_retrieved=tuple(
                    written_in_library(
                        [t for t in unseen if t not in absent],
                        query,
                        self.retriever.catalogue.mentions,
                    )
                ),
            )
            return Evidence((), strength)
        model = model or self.scorer
        followers = self._followers(covering, ranks) if model is not None else []
        scored = self._score(query, query_vec, covering, model, followers, ranks)
        if query.defined and not any(names_term(query.defined, s.candidate.text) for s in scored):
            scored = []  # "What are X?": no sentence names X, so none says what X is
        passages = tuple(
            (h.chunk.chunk_id, h.chunk.start, h.chunk.text)
            for h in covering + [f for _, _, f in followers]
        )
        texts = [s.candidate.text for s in scored]
        shown = [s.candidate.text for s in scored if s.answer >= self.settings.answer.quote_bar]
        unaddressed = () if speaks_of(query.process, texts, shown or texts[:1]) else query.process
        return Evidence(tuple(scored), _strength(scored, best_cos, unaddressed), passages)

    def _context(self, hit: Hit) -> str:
        return f"{self.retriever.sources[hit.chunk.source_id].title}\n{hit.chunk.text}"

    def _term_context(self, hit: Hit) -> str:
        """A passage for the named-term check: its source's title and the stored text around
        it. A term a paper spells out just before a chunk still covers the chunk (the review
        writes "chimeric antigen receptor (CAR) T cells (CD19-CAR)", then "CD19-CAR
        reinfusions" in its next chunk)."""
        c = hit.chunk
        start, end = max(0, c.start - TERM_WINDOW), c.end + TERM_WINDOW
        around = self.retriever.catalogue.stored_slice(c.source_id, start, end)
        return f"{self.retriever.sources[c.source_id].title}\n{around or c.text}"

    def _followers(self, hits: list[Hit], ranks: list[int]) -> list[tuple[int, Hit, Hit]]:
        """(rank, top hit, the chunk after it in its source as a hit) for the top chunks whose
        next chunk (the next row, same source, starting inside it or at most FOLLOW_GAP after) is not a top
        chunk itself. Its first new sentence becomes a candidate (`following_candidates`)."""
        top = hits[: self.settings.answer.candidate_chunks]
        total = self.retriever.count()
        want = [(rank, h) for rank, h in zip(ranks, top) if h.row + 1 < total]
        if not want:
            return []
        ids = {h.chunk.chunk_id for h in top}
        out = []
        for (rank, h), nxt in zip(want, self.retriever.chunks([h.row + 1 for _, h in want])):
            c = h.chunk
            if (
                nxt.source_id == c.source_id
                and nxt.chunk_id not in ids
                and c.start < nxt.start <= c.end + FOLLOW_GAP
            ):
                out.append((rank, h, Hit(nxt, h.row + 1, h.score, h.dense_score)))
        return out

    def _score(
        self, query: Query, query_vec, hits, model, followers=(), ranks=None
    ) -> list[Scored]:
        """Candidate sentences scored: legacy blend first, then the answer model on top. `ranks`:
        the hits' ranks in retrieval (a passage left out for not naming the question's drug
        does not lift those after it).

        The passage vectors come from the index itself, so the legacy blend costs one model
        call (the query); a model using the sentences' own vectors (`sent_cos`) adds one
        batched call for them - the shipped one does not (measured on BioASQ 10B, it ranked
        as well without them, and that call was most of `ask`'s time) - and a cross-encoder
        one pass over the pairs.
        """
        cfg = self.settings.answer
        cands = candidates_from_hits(hits, cfg.candidate_chunks, ranks)
        cands += following_candidates([(r, h.chunk, f.chunk) for r, h, f in followers])
        cands = [c for c in cands if not is_non_evidence(c.text)]
        cands = preselect(cands, set(query.terms), self.idf, cfg.max_sentences)
        if not cands:
            return []
        hits = list(hits) + [f for _, _, f in followers]
        rows = {h.chunk.chunk_id: h.row for h in hits}
        vectors = dict(zip(rows, self.retriever.vectors(list(rows.values()))))
        cosines = np.array([float(vectors[c.chunk_id] @ query_vec) for c in cands])
        legacy = score_candidates(cands, cosines, set(query.terms), self.idf, cfg.lexical_weight)
        if model is None:
            return legacy
        texts = [s.candidate.text for s in legacy]
        if uses_sentence_vectors(model):
            sent_cos = self.embed(texts) @ query_vec
        else:  # the shipped model does without: no model call per question beyond the query
            sent_cos = np.array([s.cosine for s in legacy])
        logits = model.cross.score(query.text, texts) if model.cross is not None else None
        chunks = {h.chunk.chunk_id: h.chunk for h in hits}
        domain = self._domain(query, hits)
        labels = {h.chunk.chunk_id: self._mismatch(query, h, domain) for h in hits}
        return rescore(query, legacy, sent_cos, logits, chunks, labels, model, cfg)

    def _mismatch(self, query: Query, hit: Hit, domain: str) -> str:
        """Another disease or population than the question's (app/engine/population.py)."""
        source = self.retriever.sources[hit.chunk.source_id]
        return mismatch(query.text, self._context(hit), source.diseases, domain)

    def _domain(self, query: Query, hits: list[Hit]) -> str:
        """What the question is about when it names no disease (population.implied_domain)."""
        drug = any(is_drug_name(t.label) for t in query.named)
        sources = self.retriever.sources
        seen = [
            context_diseases(self._context(h), sources[h.chunk.source_id].diseases) for h in hits
        ]
        return implied_domain(query.text, drug, seen, self.settings.answer.domain)

    def _compose(self, query: Query, evidence: Evidence) -> Answer | None:
        scored = list(evidence.scored)
        picked = choose_quotes(scored, self.settings.answer, self.scorer is not None)
        if picked and self.scorer is not None:
            picked = widen_first(picked, evidence.passages)
        quotes, numbers, dropped = [], {}, 0
        store = self.retriever.catalogue
        for s in picked:
            c = s.candidate
            text = c.text or store.document(c.source_id).text[c.start : c.end]
            if store.stored_slice(c.source_id, c.start, c.end) != text:
                dropped += 1  # never show a quote that is not verbatim
                continue
            number = numbers.setdefault(c.source_id, len(numbers) + 1)
            quotes.append(
                Quote(
                    text,
                    c.source_id,
                    c.start,
                    c.end,
                    c.page,
                    number,
                    s.score,
                    c.chunk_id,
                    note=s.label,
                    leading_ellipsis=starts_mid(text),
                    trailing_ellipsis=ends_mid(text),
                )
            )
        if not quotes:
            return None
        sources = tuple(CitedSource(n, store.sources[sid]) for sid, n in numbers.items())
        message = f"{len(quotes)} verbatim quote(s) from {len(sources)} source(s)"
        return Answer(
            query.text,
            False,
            message,
            tuple(quotes),
            sources,
            self.retriever.build_id,
            dropped_quotes=dropped,
        )

    def _abstention(self, query: Query, hits: list[Hit], ev: Evidence, verdict: str) -> Answer:
        closest: list[str] = []
        for hit in hits:
            if hit.chunk.source_id not in closest:
                closest.append(hit.chunk.source_id)
            if len(closest) == CLOSEST_SHOWN:
                break
        sources = tuple(
            CitedSource(i, self.retriever.sources[sid], supporting=False)
            for i, sid in enumerate(closest, start=1)
        )
        no_answer = verdict == NO_ANSWER or (verdict == ANSWER)  # ANSWER: every quote failed
        return Answer(
            query.text,
            True,
            NO_ANSWER_MESSAGE if no_answer else ABSTAIN_MESSAGE,
            (),
            sources,
            self.retriever.build_id,
            missing_terms=ev.strength.missing_in_library,
            reason=NO_ANSWER if no_answer else "off-topic",
            mentioned_terms=ev.strength.missing_in_retrieved,
            unaddressed=ev.strength.unaddressed,
        )


def _strength(scored: list[Scored], best_cos: float, unaddressed: tuple[str, ...]) -> Strength:
    return Strength(
        unaddressed=unaddressed,
        best_cosine=max((s.cosine for s in scored), default=best_cos),
        best_overlap=max((s.overlap for s in scored), default=0.0),
        best_combined=scored[0].score if scored else 0.0,
        best_answer=max((s.answer for s in scored), default=0.0),
        has_candidates=bool(scored),
    )


class _NoModel:
    """Signals only: every probability 0 (the cross-encoder still runs when shipped)."""

    id = "features"
    features = ()  # `bala train scorer` fits models without the sentences' own vectors

    def __init__(self, model=None):
        self.cross = getattr(model, "cross", None)

    def predict(self, rows: list[dict]) -> np.ndarray:
        return np.zeros(len(rows))


def _load_scorer(cfg: AnswerSettings):
    if cfg.scorer == "legacy":
        return None
    if cfg.scorer == "features":
        return _NoModel()
    from index.rerank import AnswerModel

    return AnswerModel(expected_id=cfg.scorer_id or None)


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
