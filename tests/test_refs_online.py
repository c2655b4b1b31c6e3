"""`bala refs --online` against a loopback server answering from constructed files
(tests/refs_replay.py): ECitMatch and title esearch candidates verified by esummary, Crossref
for a DOI, a wrong candidate rejected, rate limit, a 429 and a dropped connection, partial
failure (exit 3), and no network at all without --online."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from core.settings import FetchSettings, Settings
from core.types import Reference, Source
from index.refs_online import lookup_references, verify
from index.resolve import THRESHOLD
from ingest import citmatch
from tests.refs_replay import RefsReplay

REVIEW = """CAR T cells and blinatumomab changed relapsed B-ALL care.1,2 Resistance is common.3,4,5

References

1. Maude SL, Laetsch TW, Buechner J, et al. Tisagenlecleucel in children and young adults with \
B-cell lymphoblastic leukemia. N Engl J Med. 2018;378(5):439-448.
2. Kantarjian H, Stein A, Gokbuget N, et al. Blinatumomab versus chemotherapy for advanced acute \
lymphoblastic leukemia. N Engl J Med. 2017.
3. Shah NN, Fry TJ. Mechanisms of resistance to CAR T cell therapy. Nat Rev Clin Oncol. 2019.
4. Smith J, Doe A. CD22 directed CAR T cells in relapsed acute lymphoblastic leukemia. \
Blood. 2019;133:100-110.
5. Printed Z. A paper that prints its own identifier in the list. Lancet. 2020. PMID: 31000001.
"""


@pytest.fixture
def replay():
    with RefsReplay() as server:
        yield server


def _settings(tmp_path: Path, base: str, **fetch) -> Settings:
    values = {"fetch_backoff_s": 0.01, "fetch_retries": 3, "fetch_timeout_s": 5.0, **fetch}
    return Settings(
        index_dir=tmp_path / "index",
        fetch=FetchSettings(
            eutils_url=f"{base}/eutils",
            idconv_url=f"{base}/idconv/",
            crossref_url=f"{base}/crossref",
            ncbi_email="dev@example.org",
            **values,
        ),
    )


def _env(monkeypatch, base: str, retries: str = "3") -> None:
    for name, value in {
        "EUTILS_URL": f"{base}/eutils",
        "IDCONV_URL": f"{base}/idconv/",
        "CROSSREF_URL": f"{base}/crossref",
        "FETCH_RETRIES": retries,
        "FETCH_BACKOFF_S": "0.01",
    }.items():
        monkeypatch.setenv(f"BALA_{name}", value)


def _review(tmp_path: Path) -> Path:
    path = tmp_path / "review.txt"
    path.write_text(REVIEW, encoding="utf-8")
    return path


def _refs(tmp_path, settings):
    from index.review_refs import load_review

    refs, _ = load_review(settings, str(_review(tmp_path)))
    return list(refs.document.references)


def test_bdata_line_and_ecitmatch_answer_follow_the_format():
    ref = Reference(
        1,
        "x",
        authors=("Maude SL",),
        journal="N Engl J Med",
        year=2018,
        volume="378",
        pages="439-448",
    )
    assert citmatch.citmatch_line(ref) == "n engl j med|2018|378|439|maude sl|ref1|"
    assert citmatch.citmatch_line(Reference(2, "x", journal="Blood", year=2019)) == ""
    body = b"n engl j med|2018|378|439|maude sl|ref1|29385370\nblood|2019|1|2|x|ref2|NOT_FOUND\n"
    assert citmatch.parse_ecitmatch(body) == {1: "29385370"}
    assert citmatch.parse_ecitmatch(b"a|b|c|d|e|ref3|AMBIGUOUS 1,2\n") == {}


def test_lookup_accepts_verified_ids_and_rejects_a_wrong_candidate(tmp_path, replay):
    settings = _settings(tmp_path, replay.base)
    report = lookup_references(_refs(tmp_path, settings), settings, crossref=True)
    m = report.matches
    assert (m[1].method, m[1].pmid, m[1].accepted) == ("ecitmatch", "29385370", True)
    assert m[1].doi == "10.1056/nejmoa1709866" and m[1].score >= 0.8
    assert (m[2].method, m[2].pmid, m[2].accepted) == ("esearch", "28249141", True)
    assert (m[3].method, m[3].doi, m[3].accepted) == ("crossref", "10.1038/s41571-019-0184-6", True)
    # ECitMatch "found" 11111111 for [4]; its esummary title is another paper: rejected
    assert m[4].pmid == "11111111" and not m[4].accepted and m[4].score < 0.8
    assert 5 not in m  # prints its PMID: not looked up
    assert not report.failed
    assert len(replay.requests_to("/eutils/ecitmatch.cgi")) == 1  # one batch for all
    assert len(replay.requests_to("/eutils/esummary.fcgi")) == 1  # all candidates at once
    # [2] and [3] print no volume/page (title search in round 1); [4]'s rejected ECitMatch
    # candidate sends it to a title search in round 2 (which finds nothing)
    assert len(replay.requests_to("/eutils/esearch.fcgi")) == 3
    crossref = replay.requests_to("/crossref/works")
    assert len(crossref) == 2 and crossref[0][2]["mailto"] == ["dev@example.org"]  # [3], [4]
    assert all(q["tool"] == ["bala"] for _, p, q in replay.log if p.startswith("/eutils"))


def test_verification_scores_the_candidates_own_metadata():
    ref = Reference(
        1,
        "Maude SL. Tisagenlecleucel in children and young adults with B-cell "
        "lymphoblastic leukemia. N Engl J Med. 2018.",
        authors=("Maude SL",),
        title="Tisagenlecleucel in children and young adults with B-cell lymphoblastic leukemia",
        year=2018,
    )
    right = Source("pmid:1", title=ref.title + ".", authors=("Maude SL",), year=2018)
    wrong_title = Source(
        "pmid:2", title="Aspirin after coronary stenting", authors=("Maude SL",), year=2018
    )
    assert verify(ref, right) >= 0.95 and verify(ref, wrong_title) < THRESHOLD


def test_shared_rate_limit_429_and_dropped_connection(tmp_path, replay):
    settings = _settings(tmp_path, replay.base)
    refs = [
        Reference(
            n,
            f"Author{n} X. A title long enough to be searched number {n}. J. 2020.",
            title=f"A title long enough to be searched number {n}",
            year=2020,
        )
        for n in range(1, 9)
    ]
    replay.script["/eutils/esearch.fcgi"] = ["429", "drop"]
    report = lookup_references(refs, settings)
    assert not report.failed and report.requests == len(replay.log) == 10  # 8 + 2 retries
    times = [t for t, _, _ in replay.log]
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) == 3
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.3


def test_cli_reports_found_ids_missing_as_pmids_and_partial_failure(
    tmp_path, replay, monkeypatch, capsys
):
    _env(monkeypatch, replay.base, retries="1")
    index = str(tmp_path / "index")
    review = str(_review(tmp_path))
    assert main(["refs", review, "--online", "--missing-as", "pmids", "--index", index]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["29385370", "28249141", "31000001"]
    assert "bala refs: asking NCBI E-utilities ecitmatch, esearch and esummary at" in captured.err
    assert main(["refs", review, "--online", "--crossref", "--json", "--index", index]) == 0
    data = json.loads(capsys.readouterr().out)
    by_n = {r["n"]: r for r in data["references"]}
    assert by_n[3]["doi"] == "10.1038/s41571-019-0184-6" and by_n[3]["online"]["accepted"]
    assert by_n[4]["pmid"] is None and by_n[4]["online"]["accepted"] is False
    assert by_n[1]["library_source_id"] is None and data["online"]["failed"] == []
    # esummary fails for good: the candidates cannot be verified, so nothing is accepted
    replay.script["/eutils/esummary.fcgi"] = ["503"] * 4
    assert main(["refs", review, "--online", "--index", index]) == 3
    out = capsys.readouterr().out
    assert "LOOKUP FAILED [1]: esummary: HTTP 503" in out and "not in library: PMID" not in out


def test_without_online_nothing_touches_the_network(tmp_path, replay, monkeypatch, capsys):
    _env(monkeypatch, replay.base)
    review = str(_review(tmp_path))
    assert main(["refs", review, "--missing-as", "pmids", "--index", str(tmp_path / "i")]) == 0
    assert capsys.readouterr().out.split() == ["31000001"] and replay.log == []
    assert main(["refs", review, "--crossref", "--index", str(tmp_path / "i")]) == 2


def test_a_found_pmid_the_library_holds_counts_as_in_library(tmp_path, replay):
    from index.build import ingest_paths
    from index.refs_online import OnlineLookup
    from index.review_refs import load_review

    settings = _settings(tmp_path, replay.base)
    lib = tmp_path / "lib"
    lib.mkdir()
    line = {"pmid": "29385370", "section": "abstract", "text": "Tisagenlecleucel remissions."}
    (lib / "p.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert not ingest_paths([lib], settings).failed  # a PMID-only source: no title to match

    said = []
    online = OnlineLookup(settings, announce=said.append)
    offline, _ = load_review(settings, str(_review(tmp_path)))
    assert offline.resolution(1).source_id is None
    refs, _ = load_review(settings, str(_review(tmp_path)), online=online)
    assert (refs.resolution(1).source_id, refs.resolution(1).method) == ("pmid:29385370", "pmid")
    assert [r.n for r in refs.missing] == [2, 3, 4, 5]
    asked = f"asking NCBI E-utilities ecitmatch, esearch and esummary at {replay.base}/eutils"
    asked += f"; the NCBI ID converter at {replay.base}/idconv/"
    assert said == [asked, f"{online.report.requests} request(s) sent"]
    assert online.report.matches[1].accepted


REVIEW_DOIS = """Full text in PMC.1 Outside PMC.2 Not known to NCBI.3 Prints both.4

References

1. Author A. Temperature and lysis time of phage T4. PLoS One. 2012;7(9):e46493. \
doi:10.1371/journal.pone.0046493
2. Maude SL, Laetsch TW. Tisagenlecleucel in children and young adults. N Engl J Med. 2018. \
doi:10.1056/NEJMoa1715274
3. Nobody N. A paper NCBI does not hold. J Nowhere. 2020. doi:10.5555/unknown.1
4. Printed Z. A paper that prints both ids. Lancet. 2020. doi:10.5555/both.1 PMID: 31000001.
"""


def test_printed_dois_are_converted_to_pmids(tmp_path, replay, monkeypatch, capsys):
    """A DOI-only reference gets its PMID from the ID converter (in PMC), else from esearch
    <doi>[doi]; a DOI NCBI does not know stays without; a printed PMID is never asked."""
    settings = _settings(tmp_path, replay.base)
    review = tmp_path / "dois.txt"
    review.write_text(REVIEW_DOIS, encoding="utf-8")
    from index.review_refs import load_review

    refs, _ = load_review(settings, str(review))
    by_n = {r.n: r for r in refs.document.references}
    assert by_n[1].doi and not by_n[1].pmid and by_n[4].pmid == "31000001"
    report = lookup_references(list(by_n.values()), settings, crossref=True)
    m = report.matches
    assert (m[1].method, m[1].pmid, m[1].accepted) == ("doi", "23029536", True)
    assert (m[2].method, m[2].pmid, m[2].accepted) == ("doi", "29768149", True)
    assert m[2].doi == "10.1056/nejmoa1715274"
    assert 3 not in m and 4 not in m and not report.failed
    idconv = replay.requests_to("/idconv/")
    assert len(idconv) == 1 and len(idconv[0][2]["ids"][0].split(",")) == 3  # one batch
    terms = [q["term"][0] for _, _, q in replay.requests_to("/eutils/esearch.fcgi")]
    assert terms == ["10.1056/nejmoa1715274[doi]", "10.5555/unknown.1[doi]"]
    assert replay.requests_to("/crossref/works") == [] and report.requests == 3

    _env(monkeypatch, replay.base)
    args = ["refs", str(review), "--online", "--missing-as", "pmids"]
    assert main([*args, "--index", str(tmp_path / "i")]) == 0
    assert capsys.readouterr().out.split() == ["23029536", "29768149", "31000001"]


def test_crossref_is_paced_by_its_own_limiter(tmp_path):
    from index.refs_online import OnlineReport, _Lookup
    from ingest.download import HttpClient

    settings = _settings(tmp_path, "http://127.0.0.1:9", crossref_rate=20.0)
    run = _Lookup(settings, HttpClient(settings.fetch), OnlineReport())
    assert run.crossref_client.limiter is not run.client.limiter
    assert run.crossref_client.limiter.interval == pytest.approx(1.1 / 20.0)
    assert run.client.limiter.interval == pytest.approx(1.1 / 3.0)
