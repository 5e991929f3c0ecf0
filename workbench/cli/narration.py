"""A lesson's narration as plain text, without rich.markdown (issue 22: importing it, with
markdown-it and pygments, was about a quarter of a short headless lesson).

When stdout is not a terminal, rich renders markdown to unstyled text: emphasis and code
lose their marks, paragraphs are wrapped greedily and separated by a blank line. The
narrations are mostly that subset, so ``plain`` renders it directly, giving the same text
rich would (tests/workbench/test_narration.py compares every lesson's narration, and
generated ones, with rich's). Anything outside the subset -- lists, headings, links,
escapes, HTML, tables, ambiguous emphasis, wide or zero-width characters -- gets None, and
the caller renders that narration with rich as before.
"""

from __future__ import annotations

import re

# Characters whose meaning or width is the same for markdown-it and rich as for this module:
# printable ASCII without the ones markdown gives a meaning here left alone (escapes,
# entities, HTML, autolinks, strikethrough, tables), and a few one-cell symbols lessons use.
_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("\\~") | set("§÷—–→←↓↑…×·µ°±≤≥≈’‘“”é²³")
_BLOCK = re.compile(r"[#>=|]|[-*+](\s|$)|\d+[.)](\s|$)|```|[-_*=](\s*[-_*=]){2,}\s*$|\[")  # a line that is not text
_ENTITY = re.compile(r"&[#A-Za-z0-9]|<[A-Za-z/!?]")  # what could be an entity, HTML or an autolink
_DELIMITER_ROW = re.compile(r"^[ |:-]*-[ |:-]*$", re.M)  # a table's second row (a | alone is text)
_WORD = re.compile(r"\s*\S+\s*")  # rich's word: leading blanks (a line's first), the word, trailing blanks
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~")  # CommonMark's ASCII punctuation


def plain(text: str, width: int, indent: int = 0) -> str | None:
    """``text`` as rich renders it unstyled at ``width`` columns (each line ``indent``
    spaces in, no trailing blanks, a blank line between paragraphs), or None where it
    would take more than this module knows to say so."""
    if not set(text) <= _SAFE | {"\n"} or _ENTITY.search(text) or _DELIMITER_ROW.search(text):
        return None
    out: list[str] = []
    for para in re.split(r"\n[ \n]*\n", text.strip("\n")):
        lines = para.split("\n")
        if not para.strip():
            continue
        if lines[0].startswith("    ") or any(line.endswith("  ") or _BLOCK.match(line.lstrip()) for line in lines):
            return None  # indented code, a hard break, or a block of another kind
        flat = _inline(" ".join(line.strip() for line in lines))
        if flat is None:
            return None
        wrapped = _wrap(flat, width - indent)
        if wrapped is None:
            return None
        if out:
            out.append("")
        out += [" " * indent + line for line in wrapped]
    return "".join(line + "\n" for line in out)


def _inline(s: str) -> str | None:
    """A paragraph's text without its code spans' backticks and emphasis' stars, or None
    if a span or an emphasis is one whose reading this module does not decide."""
    for m in re.finditer(r"_|\[\]|\]\(|\]\[", s):
        if _in_code(s, m.start()):
            continue
        i = m.start()
        if m.group() != "_" or not (_alnum(s, i - 1) and _alnum(s, i + 1)):
            return None  # `_` that might open or close an emphasis, a link or a reference
    parts = s.split("`")
    if len(parts) % 2 == 0 or "``" in s:
        return None  # an unmatched backtick, or a run of them
    res: list[str] = []
    for k, part in enumerate(parts):
        if k % 2:  # a code span: as written, one space trimmed from each side if both have one
            if part.strip(" ") == "":
                return None
            res.append(part[1:-1] if part.startswith(" ") and part.endswith(" ") else part)
            continue
        text = _emphasis(part, k > 0, k < len(parts) - 1)
        if text is None:
            return None
        res.append(text)
    return "".join(res)


def _emphasis(s: str, code_before: bool, code_after: bool) -> str | None:
    """``s`` with its ``*``/``**`` emphasis marks removed, where CommonMark's delimiter
    rule (spec 6.2, markdown-it's scanDelims) pairs each opener with the next run, a closer
    of the same length: no nesting, no star left over. A run touching a code span, or
    whose neighbour is a symbol (markdown-it's versions differ on those), is left to rich."""
    pending = 0  # the length of the opener waiting for its closer
    for m in re.finditer(r"\*+", s):
        a, b = m.start(), m.end()
        if b - a > 2 or (a == 0 and code_before) or (b == len(s) and code_after):
            return None
        flank = _flanking(s[a - 1] if a else " ", s[b] if b < len(s) else " ")
        if flank is None:
            return None
        left, right = flank
        if pending and right and b - a == pending:
            pending = 0  # equal lengths of 1 or 2: the rule of three never forbids the pair
        elif not pending and left:
            pending = b - a  # nothing open, so even a run that could close only opens
        else:
            return None
    return None if pending else s.replace("*", "")


def _flanking(before: str, after: str) -> tuple[bool, bool] | None:
    """Whether a run of stars between these characters is left- and right-flanking."""
    pb, pa = _punct(before), _punct(after)
    if pb is None or pa is None:
        return None
    wb, wa = before == " ", after == " "
    return not wa and not (pa and not wb and not pb), not wb and not (pb and not wa and not pa)


def _punct(c: str) -> bool | None:
    """CommonMark punctuation; None for a non-ASCII symbol, which markdown-it's versions class differently."""
    if c.isascii():
        return c in _PUNCT
    if c.isalnum() or c.isspace():
        return False
    import unicodedata  # only for text with non-ASCII beside a star

    cat = unicodedata.category(c)
    return True if cat.startswith("P") else None


def _alnum(s: str, i: int) -> bool:
    return 0 <= i < len(s) and s[i].isalnum()


def _in_code(s: str, i: int) -> bool:
    return s.count("`", 0, i) % 2 == 1


def _wrap(s: str, width: int) -> list[str] | None:
    """rich's greedy wrap (rich/_wrap.py divide_line) of one paragraph, each line
    right-stripped; None if a word is wider than the line (rich folds those)."""
    lines: list[str] = []
    start = offset = 0
    for m in _WORD.finditer(s):
        word = m.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            return None
        elif offset and m.start():
            lines.append(s[start : m.start()].rstrip())
            start, offset = m.start(), len(word)
    lines.append(s[start:].rstrip())
    return lines
