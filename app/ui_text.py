"""Render document text literally in Streamlit: escaping, context windows, safe links.

Document text is data, never markup: every ASCII punctuation character is backslash-escaped
before it reaches `st.markdown` (CommonMark allows escaping any of them), so HTML, images,
links, `$...$` maths and `:color[...]` directives print as typed. Two rewrites run on the
parsed text, where escapes no longer help: GFM autolinks (`http://`, `www.`, `a@b.org`) and
`:emoji:` shortcodes. An invisible WORD JOINER (U+2060) after every colon, before every `@`
and inside `www.` defeats both without changing what the reader sees.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

CONTEXT_CHARS = 300
_PUNCT = frozenset(string.punctuation)
WORD_JOINER = "\u2060"
_WWW = re.compile(r"(www)(\\\.)", re.IGNORECASE)
_WS = re.compile(r"\s+")


def escape_markdown(text: str) -> str:
    """Markdown that displays `text` literally (whitespace runs shown as one space).

    Whitespace is collapsed so that indentation, line starts and blank lines cannot form
    code blocks, headings or lists either.
    """
    flat = _WS.sub(" ", text).strip()
    out = []
    for ch in flat:
        if ch == "@":
            out.append(WORD_JOINER)
        out.append("\\" + ch if ch in _PUNCT else ch)
        if ch == ":":
            out.append(WORD_JOINER)
    return _WWW.sub(rf"\1{WORD_JOINER}\2", "".join(out))


@dataclass(frozen=True)
class Context:
    """A quote with the stored text around it: before + quote + after is a verbatim slice."""

    before: str
    quote: str
    after: str
    clipped_start: bool
    clipped_end: bool


def context_window(text: str, start: int, end: int, radius: int = CONTEXT_CHARS) -> Context:
    """`text[start:end]` with up to `radius` characters either side, cut at whitespace."""
    lo = max(0, start - radius)
    hi = min(len(text), end + radius)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    return Context(text[lo:start], text[start:end], text[end:hi], lo > 0, hi < len(text))


def highlighted_markdown(ctx: Context) -> str:
    """Markdown of a context with the quote on an orange background; all text escaped."""
    before = ("\u2026 " if ctx.clipped_start else "") + escape_markdown(ctx.before)
    after = escape_markdown(ctx.after) + (" \u2026" if ctx.clipped_end else "")
    marked = f":orange-background[{escape_markdown(ctx.quote)}]"
    return " ".join(part for part in (before, marked, after) if part)


def marked_plain(ctx: Context) -> str:
    """Plain-text rendering with the quote between «guillemets» (for st.text / exports)."""
    lead = "\u2026" if ctx.clipped_start else ""
    tail = "\u2026" if ctx.clipped_end else ""
    return f"{lead}{ctx.before}\u00ab{ctx.quote}\u00bb{ctx.after}{tail}"
