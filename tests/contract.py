"""The `bala ask --json` contract from issue 3: keys may be added, never removed."""

ANSWER_KEYS = {"question", "abstained", "message", "quotes", "sources", "build_id", "timings_ms"}
QUOTE_KEYS = {"text", "source_id", "start", "end", "page", "citation", "score"}
SOURCE_KEYS = {"citation", "source_id", "title", "authors", "journal", "year", "pmid", "doi", "url"}


def assert_answer_contract(data: dict) -> None:
    """Every contracted key is present at each level of an answer's JSON."""
    assert set(data) >= ANSWER_KEYS
    for quote in data["quotes"]:
        assert set(quote) >= QUOTE_KEYS
    for source in data["sources"]:
        assert set(source) >= SOURCE_KEYS
