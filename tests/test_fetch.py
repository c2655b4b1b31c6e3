"""`bala fetch` against a loopback server replaying recorded NCBI answers (tests/ncbi_replay.py):
downloads, rate limit (measured), retries, resume, network failure, and the ingest after it.

On the `fetch` branch `.xml`/`.nxml` ingestion is not there yet (another branch adds the
MEDLINE/JATS loaders): `assert_offered_to_ingest` then checks that ingest_paths saw each
downloaded file (skipped as unsupported); once the loaders are merged it requires them indexed.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.cli import main
from app.reporting import fetch_exit_code
from core.settings import FetchSettings, Settings
from index.fetch import fetch_ids
from ingest import fetch as ncbi
from ingest.download import RateLimiter
from ingest.loaders import SUPPORTED
from tests.conftest import shared_path
from tests.ncbi_replay import NEJM, PONE, Replay


@pytest.fixture
def replay():
    server = Replay(
        shared_path("fixtures", "pubmed", "efetch-29768149.xml"),
        shared_path("fixtures", "jats", "pone.0046493.nxml"),
        extra_pmids=[str(31000000 + i) for i in range(300)],
    )
    with server:
        yield server


def settings_at(tmp_path: Path, base: str, **fetch) -> Settings:
    defaults = {"fetch_backoff_s": 0.01, "fetch_retries": 3, "fetch_timeout_s": 5.0}
    return Settings(
        index_dir=tmp_path / "index",
        fetch=FetchSettings(
            eutils_url=f"{base}/eutils",
            idconv_url=f"{base}/idconv/",
            pmc_oa_url=f"{base}/oa",
            ncbi_email="dev@example.org",
            **{**defaults, **fetch},
        ),
    )


def assert_offered_to_ingest(report, paths) -> None:
    ingest = report.ingest
    assert ingest is not None
    for path in map(str, paths):
        if Path(path).suffix in SUPPORTED:
            assert path in ingest.ok, (path, ingest.failed)
        else:  # this branch: no MEDLINE/JATS loader yet; re-checked after the merge
            assert (path, f"unsupported file type '{Path(path).suffix}'") in ingest.skipped


def test_ids_are_classified_and_bad_ones_named():
    kinds = [ncbi.classify_id(r) for r in ("29768149", "pmid:42", "PMC3460867", "doi:10.1000/X.Y")]
    assert [(w.kind, w.value) for w in kinds] == [
        ("pmid", "29768149"),
        ("pmid", "42"),
        ("pmcid", "PMC3460867"),
        ("doi", "10.1000/x.y"),
    ]
    assert ncbi.classify_id("https://doi.org/10.1182/Blood.2024024517").value == (
        "10.1182/blood.2024024517"
    )
    with pytest.raises(ValueError, match="'banana' is not a PMID"):
        ncbi.classify_id("banana")
    assert ncbi.ids_from_text("1, 2\n# note\nPMC3 # c\n\n10.1/x") == ["1", "2", "PMC3", "10.1/x"]


def test_urls_carry_tool_email_and_key_and_batches_stay_under_200():
    fetch = FetchSettings(eutils_url="http://h/e/", ncbi_email="a@b.org", ncbi_api_key="K")
    url = ncbi.efetch_pubmed_url(fetch, ["1", "2"])
    assert (
        url
        == "http://h/e/efetch.fcgi?db=pubmed&id=1,2&retmode=xml&tool=bala&email=a%40b.org&api_key=K"
    )
    assert [len(b) for b in ncbi.batches([str(i) for i in range(450)], 500)] == [200, 200, 50]
    assert ncbi.min_interval(fetch) == pytest.approx(0.11)
    assert ncbi.min_interval(fetch.replace(ncbi_api_key="")) == pytest.approx(1.1 / 3)
    assert ncbi.retry_delay(2, 0.5, None) == 2.0 and ncbi.retry_delay(0, 0.5, "7") == 7.0


def test_fetch_by_pmid_writes_the_real_record_and_ingests_it(tmp_path, replay):
    settings = settings_at(tmp_path, replay.base)
    report = fetch_ids([NEJM["pmid"]], settings)
    path = ncbi.medline_path(settings.library_dir, NEJM["pmid"])
    assert report.downloaded == [str(path)] and not report.not_fetched
    assert settings.library_dir == tmp_path / "library"  # beside the index
    root = ET.parse(path).getroot()
    assert root.tag == "PubmedArticleSet" and len(root) == 1
    assert root.findtext(".//ArticleTitle").startswith("Inhaled Combined Budesonide-Formoterol")
    assert [r[1] for r in replay.log] == ["/idconv/", "/eutils/efetch.fcgi"]
    assert all(
        q["tool"] == ["bala"] and q["email"] == ["dev@example.org"] for _, _, q in replay.log
    )
    assert_offered_to_ingest(report, [path])
    assert not list(settings.library_dir.rglob("*.part"))


def test_doi_and_pmcid_give_medline_and_open_access_jats_once(tmp_path, replay):
    settings = settings_at(tmp_path, replay.base)
    report = fetch_ids([PONE["doi"], PONE["pmcid"], f"doi:{NEJM['doi']}"], settings)
    lib = settings.library_dir
    jats = ncbi.jats_path(lib, PONE["pmcid"])
    expected = {str(ncbi.medline_path(lib, p)) for p in (PONE["pmid"], NEJM["pmid"])} | {str(jats)}
    assert set(report.downloaded) == expected and not report.not_fetched
    article = ET.parse(jats).getroot()
    assert article.tag == "article"
    assert article.find(".//article-id[@pub-id-type='pmc']").text == "3460867"
    # the NEJM DOI is not in PMC: the ID converter misses it, esearch finds its PMID
    assert len(replay.requests_to("/eutils/esearch.fcgi")) == 1
    assert len(replay.requests_to("/oa")) == 1  # one OA check for the one PMCID
    assert_offered_to_ingest(report, sorted(expected))


def test_not_open_access_full_text_is_a_note_not_a_failure(tmp_path, replay):
    replay.idconv = lambda ids: (
        b'{"status":"ok","records":[{"requested-id":"PMC999","pmcid":"PMC999","pmid":31000001}]}'
    )
    report = fetch_ids(["PMC999"], settings_at(tmp_path, replay.base))
    assert report.notes == [
        ("PMC999", "no PMC full text (idIsNotOpenAccess: identifier 'PMC999' is not Open Access)")
    ]
    assert not report.not_fetched and len(report.downloaded) == 1
    assert not replay.requests_to("/eutils/efetch.fcgi")[1:]  # no db=pmc request


def _gaps(replay: Replay) -> list[float]:
    times = [t for t, _, _ in replay.log]
    return [b - a for a, b in zip(times, times[1:])]


def _most_in_one_second(replay: Replay) -> int:
    """The largest number of requests the server saw arrive within any 1-second window."""
    times = [t for t, _, _ in replay.log]
    return max(sum(1 for u in times if t <= u < t + 1.0) for t in times)


class FakeClock:
    """A clock that only moves when the limiter sleeps (or a request 'takes' time)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_spaces_request_starts_exactly():
    clock = FakeClock()
    limiter = RateLimiter(1.1 / 3, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(10):
        limiter.wait()
        starts.append(clock.now)
        clock.now += 0.01  # the request itself
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == pytest.approx([1.1 / 3] * 9)
    clock.now += 5.0  # idle: the next request goes at once
    before = clock.now
    limiter.wait()
    assert clock.now == before


def test_rate_limit_is_respected_without_and_with_an_api_key(tmp_path, replay):
    """Against the live loopback server: never more than the limit in any second (3 without
    a key, 10 with one). Exact spacing is checked on a fake clock above; here the machine's
    load may only make requests slower, so only the bounds and the key's faster pace are
    asserted."""
    ids = [str(31000000 + i) for i in range(12)]
    plain = settings_at(tmp_path / "a", replay.base, fetch_batch=1, fetch_full_text=False)
    fetch_ids(ids, plain, ingest=False)
    assert len(replay.log) == 12 and _most_in_one_second(replay) <= 3
    assert min(_gaps(replay)) >= 0.3
    replay.log.clear()
    keyed = settings_at(
        tmp_path / "b", replay.base, fetch_batch=1, fetch_full_text=False, ncbi_api_key="KEY"
    )
    fetch_ids(ids, keyed, ingest=False)
    gaps = _gaps(replay)
    assert len(replay.log) == 12 and _most_in_one_second(replay) <= 10 and min(gaps) >= 0.09
    assert min(gaps) < 0.3  # the key's higher limit is used, not the plain one
    assert all(q["api_key"] == ["KEY"] for _, _, q in replay.log)


def test_batches_of_at_most_200_ids(tmp_path, replay):
    ids = [str(31000000 + i) for i in range(201)]
    report = fetch_ids(ids, settings_at(tmp_path, replay.base, fetch_full_text=False), ingest=False)
    sizes = [len(q["id"][0].split(",")) for _, _, q in replay.requests_to("/eutils/efetch.fcgi")]
    assert sizes == [200, 1] and len(report.downloaded) == 201


def test_survives_a_429_and_a_dropped_connection(tmp_path, replay):
    replay.script["/eutils/efetch.fcgi"] = ["429", "drop"]
    settings = settings_at(tmp_path, replay.base, fetch_full_text=False)
    report = fetch_ids([NEJM["pmid"]], settings, ingest=False)
    assert len(replay.requests_to("/eutils/efetch.fcgi")) == 3
    assert report.downloaded and not report.not_fetched and report.requests == 3


def test_resume_sends_no_request_and_rewrites_nothing(tmp_path, replay):
    settings = settings_at(tmp_path, replay.base)
    first = fetch_ids([PONE["doi"], NEJM["pmid"]], settings)
    files = sorted(Path(f) for f in first.downloaded)
    stamps = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files}
    sent = len(replay.log)
    again = fetch_ids([PONE["doi"], NEJM["pmid"]], settings)
    assert len(replay.log) == sent and again.requests == 0
    assert not again.downloaded and sorted(map(Path, again.present)) == files
    assert {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files} == stamps
    dry = fetch_ids([NEJM["pmid"], "31000005"], settings, dry_run=True)
    assert dry.planned[0] == f"{NEJM['pmid']}: already in the library"
    assert dry.planned[1].startswith("31000005: would resolve ids") and len(replay.log) == sent


def test_permanent_server_error_names_the_ids_and_exits_partial(tmp_path, replay):
    replay.script["/eutils/efetch.fcgi"] = ["503"] * 10
    settings = settings_at(
        tmp_path, replay.base, fetch_batch=1, fetch_retries=1, fetch_full_text=False
    )
    report = fetch_ids([NEJM["pmid"], "31000001"], settings, ingest=False)
    assert [i for i, _ in report.not_fetched] == [NEJM["pmid"], "31000001"]
    assert "HTTP 503" in report.not_fetched[0][1] and fetch_exit_code(report) == 1
    replay.script.clear()
    report = fetch_ids([NEJM["pmid"], "31999999"], settings, ingest=False)  # no such record
    assert report.not_fetched == [("31999999", "PubMed has no record 31999999")]
    assert fetch_exit_code(report) == 3


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_network_failure_is_a_clear_error_and_touches_nothing(tmp_path, monkeypatch, capsys):
    base = f"http://127.0.0.1:{_closed_port()}"
    for name, value in {
        "EUTILS_URL": f"{base}/eutils",
        "IDCONV_URL": f"{base}/idconv/",
        "PMC_OA_URL": f"{base}/oa",
        "FETCH_RETRIES": "1",
        "FETCH_BACKOFF_S": "0.01",
    }.items():
        monkeypatch.setenv(f"BALA_{name}", value)
    library = tmp_path / "library"
    kept = ncbi.medline_path(library, "123")
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"<PubmedArticleSet/>")
    before = (kept.stat().st_mtime_ns, kept.read_bytes(), sorted(library.rglob("*")))
    code = main(
        ["fetch", "29768149", "PMC3460867", "10.1000/abc", "--index", str(tmp_path / "index")]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "not fetched: 29768149, PMC3460867, 10.1000/abc" in out and "connection refused" in out
    assert (kept.stat().st_mtime_ns, kept.read_bytes(), sorted(library.rglob("*"))) == before


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["fetch", "--index", str(tmp_path / "i")]) == 2
    assert main(["fetch", "nonsense", "--index", str(tmp_path / "i")]) == 2
    assert "'nonsense' is not a PMID" in capsys.readouterr().err
