"""bala's retrieval as a LangChain retriever (`langchain_core.retrievers.BaseRetriever`).

`BalaRetriever(index_dir=..., k=10).invoke(question)` returns bala's production hits (the
question normalized with the clinical vocabulary, dense and BM25 fused, dense feedback:
`index/retrieve.py`'s `search`) as LangChain Documents: the passage text verbatim, and in
`metadata` where it comes from (source id, chunk id, page and citable page label,
character offsets in the stored text, section), the citation (title, authors, journal, year,
volume, issue, pages, DOI, PMID, link) and the scores (fused, dense, BM25). The adapter sits
on top of the index: `_Search` opens whichever engine the settings select (the local index or
Milvus, both behind the retriever protocol in index/retriever.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from core.ids import best_link
from core.types import Source


class _Search:
    """The one place that knows the index: the engine the settings select (index/retriever.py)
    and the embedding model, opened once, searched with the production retriever."""

    def __init__(self, index_dir: str | None):
        from core.settings import load_settings
        from index.embed import load_embedder
        from index.retriever import open_retriever

        self.settings = load_settings(index_dir)
        self.retriever = open_retriever(self.settings)
        self.embedder = load_embedder(self.settings.index)
        self.lock = threading.Lock()  # a torch model is not re-entrant across threads

    def embed(self, texts: list[str]):
        with self.lock:
            return self.embedder.encode(texts)

    def __call__(self, question: str, k: int, filters: dict) -> list[tuple[Any, Source]]:
        from index.retrieve import Filters, search

        chosen = Filters(**filters)
        hits, _ = search(self.retriever, self.embed, question, self.settings.retrieve, k, chosen)
        sources = self.retriever.sources
        return [(hit, sources[hit.chunk.source_id]) for hit in hits]

    @property
    def build_id(self) -> str:
        return self.retriever.build_id

    def close(self) -> None:
        self.retriever.close()


def hit_document(hit, source: Source, build_id: str = "") -> Document:
    """One hit as a LangChain Document: verbatim passage, provenance, citation, scores."""
    chunk = hit.chunk
    metadata = {
        "source_id": chunk.source_id,
        "chunk_id": chunk.chunk_id,
        "page": chunk.page,
        "pages": list(chunk.pages),
        "page_label": source.page_label(chunk.page),
        "start": chunk.start,
        "end": chunk.end,
        "section": chunk.section,
        "title": source.title,
        "authors": list(source.authors),
        "journal": source.journal,
        "year": source.year,
        "volume": source.volume,
        "issue": source.issue,
        "citation_pages": source.pages,
        "doi": source.doi,
        "pmid": source.pmid,
        "url": best_link(source.doi, source.pmid, source.url),
        "kind": source.kind,
        "score": hit.score,
        "dense_score": hit.dense_score,
        "bm25_score": hit.bm25_score,
        "build_id": build_id,
    }
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)


class BalaRetriever(BaseRetriever):
    """bala's hybrid retriever over a local index (`index_dir`, else `$BALA_INDEX`).

    `k` passages per question (also per call: `invoke(q, k=3)`); `filters` restrict sources
    like `bala ask`'s options (`year_min`, `year_max`, `kinds`, `designs`, `populations`,
    `diseases`, `source_ids`; sets of names). The index opens on first use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index_dir: str | None = None
    k: int = Field(default=10, ge=1)
    filters: dict[str, Any] = Field(default_factory=dict)
    _search: _Search | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _searcher(self) -> _Search:
        with self._lock:
            if self._search is None:
                self._search = _Search(str(Path(self.index_dir)) if self.index_dir else None)
            return self._search

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        searcher = self._searcher()
        filters = {key: _frozen(value) for key, value in self.filters.items()}
        found = searcher(query, k or self.k, filters)
        return [hit_document(hit, source, searcher.build_id) for hit, source in found]

    def close(self) -> None:
        """Release the index (a running app's hold on its build)."""
        with self._lock:
            if self._search is not None:
                self._search.close()
                self._search = None


def _frozen(value):
    return frozenset(value) if isinstance(value, list | set | tuple | frozenset) else value
