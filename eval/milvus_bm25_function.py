"""Milvus's built-in BM25 function against our BM25, on the same passages and queries.

Why the Milvus engine stores our own BM25 weights as its sparse vector instead of using
Milvus's BM25 function: this builds a second collection whose sparse vector Milvus derives
from the text itself (its "english" analyzer: lowercase, stop words, Snowball stemming; the
same k1 and b) and ranks the same queries BM25-only. `bala bench engines` reports both
nDCG@10 values and how often the two top-10 lists agree."""

from __future__ import annotations

from core.settings import Settings

COLLECTION = "bala_bench_bm25_function"
TEXT_BYTES = 65_535


def build_bm25_function_collection(client, texts: list[str], settings: Settings) -> None:
    from pymilvus import DataType, Function, FunctionType

    if client.has_collection(COLLECTION):
        client.drop_collection(COLLECTION)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field(
        "text",
        DataType.VARCHAR,
        max_length=TEXT_BYTES,
        enable_analyzer=True,
        analyzer_params={"type": "english"},
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )
    params = client.prepare_index_params()
    bm25 = {"bm25_k1": settings.index.bm25_k1, "bm25_b": settings.index.bm25_b}
    params.add_index(
        field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=bm25
    )
    client.create_collection(COLLECTION, schema=schema, index_params=params)
    for lo in range(0, len(texts), 1000):
        rows = [{"row": r, "text": texts[r]} for r in range(lo, min(lo + 1000, len(texts)))]
        client.insert(COLLECTION, rows)
    client.flush(COLLECTION)
    client.load_collection(COLLECTION)


class FunctionRanker:
    """question -> top-10 (row, score) from Milvus's BM25 function."""

    def __init__(self, client, inputs: dict, runs: dict):
        self.client, self.inputs, self.runs = client, inputs, runs

    def __call__(self, text: str):
        lexical = self.inputs[text][1]
        found = self.client.search(
            COLLECTION,
            data=[lexical],
            anns_field="sparse",
            limit=10,
            search_params={"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}},
        )
        hits = sorted(((int(h["id"]), float(h["distance"])) for h in found[0]), key=_order)
        self.runs[text] = [r for r, _ in hits]
        return hits


class OurRanker:
    """question -> top-10 (row, score) from our BM25 (the local engine's lexical search)."""

    def __init__(self, retriever, inputs: dict, runs: dict):
        self.retriever, self.inputs, self.runs = retriever, inputs, runs

    def __call__(self, text: str):
        from index.filters import Filters

        hits = self.retriever.lexical_search(self.inputs[text][1], 10, Filters())
        self.runs[text] = [r for r, _ in hits]
        return hits


def _order(hit):
    return (-hit[1], hit[0])
