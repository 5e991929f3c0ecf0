"""A headless lesson's narration without rich (workbench/cli/narration.py) is the text rich
gives: for every lesson's narration and for generated ones, ``plain`` either declines
(None: rich renders it) or matches rich exactly."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console
from rich.markdown import Markdown
from rich.padding import Padding

from scenarios import engine
from workbench.cli import scenario
from workbench.cli.narration import plain


def rich_text(text: str) -> str:
    """What `spinwb scenario run --headless` printed with rich when stdout is not a terminal."""
    buf = io.StringIO()
    Console(width=88, file=buf, force_terminal=False, color_system=None, highlight=False).print(
        Padding(Markdown(text), (0, 0, 0, 2))
    )
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def narrations() -> list[str]:
    return [s.narration for path in engine.available().values() for s in engine.load(str(path)).steps if s.narration]


def test_every_lesson_narration_reads_as_rich_prints_it() -> None:
    texts = narrations()
    light = [t for t in texts if plain(t, 88, 2) is not None]
    for t in light:
        assert plain(t, 88, 2) == rich_text(t), t[:200]
    assert len(light) >= 0.9 * len(texts), "most narrations should not need rich"


# Pieces of narration, most of them the subset, some the traps around its edges.
COMMON = ["word", "the", "kernel/boot.py", "snake_case", "**bold**", "*em*", "**two words**", "*a b*", "`code`",
          "` sp `", "`a*b*c`", "`x_`", "(", ")", ",", ".", ":", ";", "'", '"', "-", "--", "§5.2", "µs", "n²", "—",
          "…", "é", "x" * 30, "&", "<", " | ", "[x]", "Vote.Ask(n)"]  # fmt: skip
RARE = ["*", "**", "_", "_x", "x_", "→", "&amp;", "<b>", "[x](y)", "1.", "-", "* item", "#", "> q", "x" * 95, "`",
        "``x``", "***x***", "\\*", "~~s~~", "日本", "\t", "|--|", "===", "<http://x>"]  # fmt: skip
JOINS = [" "] * 6 + ["", "", "\n", "\n\n", "  \n", "\n    ", "\n  "]


@pytest.mark.parametrize("seed", range(3))
def test_generated_narration_reads_as_rich_prints_it(seed: int) -> None:
    rng = random.Random(seed)
    light = 0
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(1, 30)):
            parts += [rng.choice(RARE if rng.random() < 0.03 else COMMON), rng.choice(JOINS)]
        text = "".join(parts)
        got = plain(text, 88, 2)
        if got is not None:
            light += 1
            assert got == rich_text(text), repr(text)
    assert light >= 30, "the generator should often stay inside the subset"


@pytest.mark.parametrize(
    "text",
    ["- a list\n- of two", "# A heading", "see [the docs](docs/lessons.md)", "an \\*escape\\*", "&amp; an entity",
     "<b>html</b>", "a | b\n--|--\nc | d", "para\n\n    indented code", "a hard  \nbreak", "***both***",
     "2 * 3", "_under_", "``two ticks``", "a `lone tick", "x" * 90, "wide 日本"],
)  # fmt: skip
def test_what_it_does_not_know_it_leaves_to_rich(text: str) -> None:
    assert plain(text, 88, 2) is None


def test_plain_wraps_and_strips_as_rich() -> None:
    text = "**Bold** and *em* with `code`, " + "word " * 30 + "\n\nsecond  paragraph"
    for width in (24, 40, 88):
        assert plain(text, width, 2) == rich_text_at(text, width)
    short = "**Bold** and *em* with `code`, then some more words\n\nsecond  paragraph"
    assert plain(short, 24, 2) == "  Bold and em with code,\n  then some more words\n\n  second  paragraph\n"


def rich_text_at(text: str, width: int) -> str:
    buf = io.StringIO()
    Console(width=width, file=buf, force_terminal=False, color_system=None, highlight=False).print(
        Padding(Markdown(text), (0, 0, 0, 2))
    )
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def test_the_cli_prints_rich_text_either_way(capsys: pytest.CaptureFixture[str]) -> None:
    """scenario._markdown gives rich's text whether or not the light renderer takes it."""
    for text in ("Plain **enough** `text`.", "- a list item\n- another"):
        scenario._markdown(text)
        assert capsys.readouterr().out == rich_text(text)
