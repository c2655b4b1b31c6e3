"""PDF extraction: pure layout cleaning, the sandboxed parser on generated fixtures
(hostile ones included), and word-level fidelity on the shared bench."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pdf_fixtures as fx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.pdf import ParsedPdf, parse_pdf, parse_pdf_inprocess
from ingest.pdf_layout import (
    Fragment,
    Line,
    column_blocks,
    fragments_to_lines,
    is_page_number,
    join_split_across_pages,
    join_wrapped_lines,
    keeps_hyphen,
    remove_margin_lines,
    remove_repeated_lines,
)
from ingest.sandbox import SandboxError, run_sandboxed

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BALA_SHARED", REPO.parent / "shared"))
BENCH = SHARED / "bench" / "pdf-fidelity"


def _reason(path: Path, **kwargs) -> str:
    with pytest.raises(IngestError) as caught:
        parse_pdf(path, **kwargs)
    assert caught.value.path == str(path)
    return caught.value.reason


# ------------------------------------------------------------ hyphens (pure)


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        (["patients experi-", "encing a relapse"], "patients experiencing a relapse"),
        (["after CD19-", "negative relapse"], "after CD19-negative relapse"),
        (["the B-", "cell marker"], "the B-cell marker"),
        (["anti-", "CD19 therapy"], "anti-CD19 therapy"),
        (["IL-", "6 receptor"], "IL-6 receptor"),
        (["the c-", "myc gene"], "the c-myc gene"),
        (["a mAb-", "based assay"], "a mAb-based assay"),
        (["Mi-", "dostaurin was"], "Midostaurin was"),
        (["Intravesi-", "cal therapy"], "Intravesical therapy"),
        (["soft\u00ad", "ware"], "software"),
        (["years 2010\u2013", "2015 were"], "years 2010\u20132015 were"),
        (["a dash -", "and more"], "a dash - and more"),
        (["one line", "two line"], "one line two line"),
    ],
)
def test_join_wrapped_lines(lines, joined):
    assert join_wrapped_lines(lines) == joined


def test_document_vocabulary_keeps_real_lowercase_hyphens():
    assert join_wrapped_lines(["long-term follow-", "up visits"]) == "long-term followup visits"
    vocab = frozenset({"follow-up", "long-term"})
    assert join_wrapped_lines(["follow-", "up visits"], vocab) == "follow-up visits"
    assert not keeps_hyphen("experi", "encing", vocab)
    assert keeps_hyphen("CD19", "negative") and keeps_hyphen("4'-methyl", "5-(7")
    # capitals keep the hyphen unless the document spells the word whole elsewhere
    assert keeps_hyphen("OP", "TIONAL") and not keeps_hyphen("OP", "TIONAL", {"optional"})
    assert keeps_hyphen("BCR", "ABL", frozenset({"bcr-abl", "ball"}))


def test_token_broken_without_hyphen_is_mended_only_when_it_fills_the_line():
    long_line = "Discovery of methyl 4'-methyl-5-(7-nitrobenzo[c][1,2,5]oxa"
    joined = join_wrapped_lines([long_line, "diazol-4-yl)-[1,1'-biphenyl] an improved"])
    assert "oxadiazol-4-yl" in joined
    assert join_wrapped_lines(["Immunohistochemistry-based", "analysis of the", "x" * 40]) == (
        "Immunohistochemistry-based analysis of the " + "x" * 40
    )


@given(st.lists(st.text(alphabet="abcdefgh XYZ.,", min_size=1, max_size=39), max_size=8))
def test_joining_hyphen_free_lines_keeps_every_word(lines):
    """Lines shorter than a text column never lose or merge a word."""
    assert join_wrapped_lines(lines).split() == " ".join(lines).split()


def test_word_split_over_a_page_break_is_mended():
    pages = join_split_across_pages(["ends with experi-", "encing more text\nnext"])
    assert pages == ("ends with experiencing", "more text\nnext")
    assert join_split_across_pages(["ends CD19-", "negative x"]) == ("ends CD19-negative", "x")


# --------------------------------------------------- headers and footers (pure)


def test_page_numbers():
    for text in ("12", "- 12 -", "Page 3", "page 3 of 9", "iv", "xii", "[7]"):
        assert is_page_number(text), text
    for text in ("PubMed 1493439", "mix", "civil", "12 patients", "2024024517"):
        assert not is_page_number(text), text


def test_running_header_footer_and_numbers_repeating_across_pages_are_removed():
    def page(n: int, body: str) -> list[Line]:
        return [
            Line(f"Blood | Volume 145 | {63 + n}", y=760),
            Line(f"{body} first line", y=700),
            Line(f"PubMed {1493439 + 7 * n}", y=650),
            Line(f"{body} last line", y=100),
            Line("Excerpts are verbatim", y=30),
        ]

    pages = remove_repeated_lines([page(n, f"body {chr(97 + n)}") for n in range(4)])
    for n, lines in enumerate(pages):
        texts = [ln.text for ln in lines]
        assert texts == [
            f"body {chr(97 + n)} first line",
            f"PubMed {1493439 + 7 * n}",
            f"body {chr(97 + n)} last line",
        ]


def test_chapter_running_head_with_page_number_is_removed():
    def page(n: int, head: str) -> list[Line]:
        return [Line(f"{head} {n + 1}", y=760), Line(f"text of page {chr(97 + n)}", y=700)]

    heads = ["Chapter 2: Methods"] * 3 + ["Chapter 3: Results"] * 7
    pages = remove_repeated_lines([page(n, head) for n, head in enumerate(heads)])
    assert all(len(lines) == 1 and lines[0].text.startswith("text") for lines in pages)
    tables = [[Line(f"Table {n + 2}", y=760), Line("x", y=700)] for n in range(2)]
    assert remove_repeated_lines(tables + [[Line("y", y=700)]] * 6)[0][0].text == "Table 2"


def test_single_page_header_footer_found_by_position():
    box = (0.0, 0.0, 612.0, 792.0)
    lines = [
        Line("Blood 2 January 2025 | Volume 145, Number 1 | How I Treat", y=756, size=7.5),
        Line("1", x0=553, y=756, size=7.5),
        Line("How I treat relapsed B-ALL", y=720, size=16),
        Line("Body text in the normal size", y=540, size=9.5),
        Line("more body text", y=528, size=9.5),
        Line("https://doi.org/10.1182/blood.2024024517", y=30, size=7.5),
    ]
    kept = [ln.text for ln in remove_margin_lines(lines, box)]
    assert kept == ["How I treat relapsed B-ALL", "Body text in the normal size", "more body text"]
    # a body-size line near the bottom edge is text, not a footer
    low = [*lines[2:5], Line("last body line", y=40, size=9.5)]
    assert [ln.text for ln in remove_margin_lines(low, box)][-1] == "last body line"


# ------------------------------------------------------------- layout (pure)


def test_fragments_after_a_font_switch_continue_the_line_without_a_space():
    frags = [
        Fragment("levels of TNF", 60, 500, 9.5, "Times-Roman", 55),
        Fragment("\u03b1", 60, 500, 9.5, "Symbol", 5),  # reported at the line start
        Fragment(" rose", 60, 500, 9.5, "Times-Roman", 20),
        Fragment("right column", 321, 500, 9.5, "Times-Roman", 50),
    ]
    assert [ln.text for ln in fragments_to_lines(frags)] == [
        "levels of TNF\u03b1 rose",
        "right column",
    ]


def test_column_blocks_put_title_then_left_then_right():
    lines = [Line("Title across the page", 60, 500, 720, 16)]
    for i in range(8):
        y = 660 - 12 * i
        lines += [Line(f"L{i}", 60, 300, y, 9), Line(f"R{i}", 320, 560, y, 9)]
    blocks = column_blocks(lines)
    assert [[ln.text for ln in b] for b in blocks] == [
        ["Title across the page"],
        [f"L{i}" for i in range(8)],
        [f"R{i}" for i in range(8)],
    ]
    single = [Line(f"line {i}", 72, 540, 700 - 12 * i, 10) for i in range(10)]
    assert column_blocks(single) == [single]


def test_three_columns_and_a_short_last_column():
    lines = []
    for i in range(20):
        y = 700 - 12 * i
        lines += [Line(f"A{i}", 50, 215, y, 9), Line(f"B{i}", 230, 395, y, 9)]
        if i < 2 or (i < 12 and i % 3 == 0):  # sparse, short third column
            lines.append(Line(f"C{i}", 410, 575, y, 9))
    texts = [[ln.text for ln in b] for b in column_blocks(lines)]
    assert [t[0][0] for t in texts] == ["A", "B", "C"] and sum(map(len, texts)) == len(lines)


def test_indents_and_equation_numbers_are_not_columns():
    lines = []
    for i in range(30):
        indent = 12 if i % 3 == 0 else 0  # a first-line indent every third line
        lines.append(Line(f"text {i}", 72 + indent, 540, 700 - 12 * i, 10))
        if i % 5 == 0:
            lines.append(Line(f"({i // 5 + 1})", 520, 532, 700 - 12 * i, 10))
    assert column_blocks(lines) == [sorted(lines, key=lambda ln: (-ln.y, ln.x0))]


# ------------------------------------------------------ parser on fixtures


def test_journal_pages_clean_text_and_metadata(tmp_path):
    info = {"Title": "Fixture title", "Author": "A. Author", "Subject": "(unspecified)"}
    parsed = parse_pdf(fx.journal_pdf(tmp_path / "j.pdf", pages=3, info=info))
    assert isinstance(parsed, ParsedPdf)
    assert parsed.pages == tuple(fx.journal_truth(3))
    doi = "10.9999/fixture.2025.001"  # only in the removed footer
    assert parsed.metadata == {"title": "Fixture title", "author": "A. Author", "doi": doi}
    text = "\n".join(parsed.pages)
    assert fx.HEADER not in text and fx.FOOTER not in text


def test_single_page_journal_loses_header_footer_and_page_number(tmp_path):
    parsed = parse_pdf_inprocess(fx.journal_pdf(tmp_path / "one.pdf", pages=1))
    assert parsed.pages == tuple(fx.journal_truth(1))


def test_two_column_page_reads_title_left_column_then_right(tmp_path):
    path = fx.text_pdf(tmp_path / "cols.pdf", [fx.two_column_items()])
    parsed = parse_pdf(path)
    assert parsed.pages[0].split() == f"{fx.TITLE} {' '.join(fx.LEFT + fx.RIGHT)}".split()


def test_page_without_text_is_an_empty_string(tmp_path):
    pages = [fx.journal_page(1), [], fx.journal_page(3)]
    parsed = parse_pdf_inprocess(fx.text_pdf(tmp_path / "gap.pdf", pages))
    assert len(parsed.pages) == 3 and parsed.pages[1] == ""


def test_empty_password_encryption_is_opened(tmp_path):
    parsed = parse_pdf(fx.encrypted_pdf(tmp_path / "open.pdf", user_password=""))
    assert parsed.pages == tuple(fx.journal_truth(1))


# ------------------------------------------------------------ hostile input


def test_empty_file(tmp_path):
    assert _reason(fx.write(tmp_path / "empty.pdf", b"")) == "empty file"


def test_not_a_pdf(tmp_path):
    path = fx.write(tmp_path / "notes.pdf", b"just some notes, not a PDF\n" * 40)
    assert _reason(path) == "not a PDF (no %PDF header)"


def test_truncated_pdf(tmp_path):
    assert _reason(fx.truncated_pdf(tmp_path / "cut.pdf")).startswith("truncated or damaged PDF")


def test_missing_xref_is_damaged(tmp_path):
    data = fx.build_pdf([fx.text_ops(fx.journal_page(1))])
    path = fx.write(tmp_path / "noxref.pdf", data[: data.index(b"xref")] + b"%%EOF\n")
    assert _reason(path).startswith("truncated or damaged PDF")


def test_encrypted_pdf(tmp_path):
    assert _reason(fx.encrypted_pdf(tmp_path / "locked.pdf")) == "encrypted PDF; decrypt it first"


def test_image_only_pdf(tmp_path):
    reason = _reason(fx.image_only_pdf(tmp_path / "scan.pdf"))
    assert reason == "no text layer (image-only/scanned PDF); OCR it first"


def test_deflate_bomb_fixture_is_a_valid_stream():
    assert zlib.decompress(fx.deflate_bomb(3)) == b" " * (3 * 1024 * 1024)


@pytest.mark.parametrize("cap_mb", [1536, 150])
def test_decompression_bomb(tmp_path, cap_mb):
    """1 GB of content behind ~1 MB of file: stopped by pypdf's output limit (default cap)
    or, under a tight cap, by the child's memory limit."""
    path = fx.bomb_pdf(tmp_path / "bomb.pdf", inflated_mb=1024)
    reason = _reason(path, timeout_s=30, max_memory_mb=cap_mb)
    assert reason.startswith("exceeds memory/size limits")


def test_parser_that_runs_too_long_is_killed(tmp_path):
    assert _reason(fx.busy_pdf(tmp_path / "busy.pdf"), timeout_s=1) == "timed out after 1 s"


def test_missing_file(tmp_path):
    assert _reason(tmp_path / "absent.pdf").startswith("cannot read file")


# ----------------------------------------------------------------- sandbox


def test_sandbox_returns_the_result():
    assert run_sandboxed(fx.echo, {"a": [1, 2]}, timeout_s=30, max_memory_mb=512) == {"a": [1, 2]}


def test_sandbox_timeout():
    with pytest.raises(SandboxError, match=r"^timed out after 0.5 s$"):
        run_sandboxed(fx.sleep_forever, None, timeout_s=0.5, max_memory_mb=512)


def test_sandbox_memory_cap():
    with pytest.raises(SandboxError, match="exceeds memory/size limits"):
        run_sandboxed(fx.allocate_too_much, None, timeout_s=30, max_memory_mb=512)


def test_sandbox_crash():
    with pytest.raises(SandboxError, match="parser process died"):
        run_sandboxed(fx.crash_hard, None, timeout_s=30, max_memory_mb=512)


def test_importing_the_parser_stays_light():
    code = "import sys, ingest.pdf; print(sorted({'pypdf', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------- fidelity


def test_fidelity_on_shared_bench():
    if not (BENCH / "truth.json").is_file():
        pytest.skip(f"shared bench {BENCH} is absent (set BALA_SHARED to the shared folder)")
    from eval.pdf_fidelity import fidelity_report

    report = fidelity_report(BENCH)
    assert report["pdfs"], "no PDFs in truth.json"
    for name, result in report["pdfs"].items():
        assert result["word_similarity"] >= 0.98, (name, result)
        assert result.get("running_header_removed", True), name
        assert result.get("footer_removed", True), name
