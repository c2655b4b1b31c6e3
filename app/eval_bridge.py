"""The answer engine as the plain functions `eval/` takes (eval sits below app.engine's UIs
and never imports the engine itself): `bala eval`, `bala bench` and `bala train` get them
from here."""

from __future__ import annotations


def engine_functions(settings):
    """The answer engine as the plain functions eval/ takes."""
    from app.engine.answer import get_engine
    from eval.cli import EngineFunctions

    engine = get_engine(settings)
    return EngineFunctions(
        ask=lambda q: engine.ask(q).to_json(),
        rank_sources=lambda q: [h.chunk.source_id for h in engine.retrieve(q, k=50)],
        stored_slice=engine.retriever.catalogue.stored_slice,
        build_id=engine.retriever.build_id,
        evidence=lambda q: _evidence_json(engine.evidence(q)),
        source_ids=lambda: set(engine.retriever.sources),
        answer_settings=settings.answer,
        candidates=lambda q: [
            {"text": c.text, "hit_rank": c.hit_rank} for c in engine.candidates(q)
        ],
        passages=lambda q: [h.chunk.text for h in engine.retrieve(q)],
        signals=lambda q: _signals_json(engine.evidence(q)),
        features=engine.features,
    )


def _signals_json(evidence) -> list[dict]:
    return [
        {
            "text": s.candidate.text,
            "label": s.label,
            "answer": s.answer,
            "score": s.score,
            **s.signals,
        }
        for s in evidence.scored
        if s.signals is not None
    ]


def _evidence_json(evidence) -> dict:
    from dataclasses import asdict

    data = asdict(evidence.strength)
    data["missing_terms"] = list(evidence.missing)
    return data
