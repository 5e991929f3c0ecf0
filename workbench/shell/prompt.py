"""`spinwb shell`: the workbench's commands at a prompt-toolkit prompt.

History (kept in ~/.spinwb_history, or in memory when the home directory
is not writable), completion of commands, event names, extension names
and strand ids from the live session, and rich tables. The commands are
the TUI's (workbench/shell/commands.py). Reading from a pipe works too: one
command per line, no prompt, exit 1 if any command was refused.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from rich.console import Console

from scenarios import engine
from workbench.session import Session
from workbench.shell.commands import Reply, complete, execute


class SessionCompleter(Completer):
    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        prefix = "" if text.endswith(" ") or not text else text.split()[-1]
        for word in complete(self.session, text):
            yield Completion(word, start_position=-len(prefix))


def _show(console: Console, reply: Reply) -> None:
    if reply.body == "":
        return
    if reply.error:
        console.print("error:", reply.body, style="bold red", highlight=False, markup=False)
    else:
        console.print(reply.body, highlight=False, markup=False)  # "[ok]" is text here, not a style


def run_shell(scenario: str | None = None, seed: int = 0, history: Path | None = None) -> int:
    console = Console()
    try:
        session = Session(scenario=scenario, seed=seed)
    except engine.ScenarioError as e:
        console.print(f"error: {e}", style="bold red", highlight=False, markup=False)
        return 2
    if not sys.stdin.isatty():  # a script of commands
        refused = False
        for line in sys.stdin:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            console.print(f"> {line.rstrip()}", style="dim", highlight=False, markup=False)
            reply = execute(session, line)
            _show(console, reply)
            refused |= reply.error
            if reply.quit:
                break
        return 1 if refused else 0
    path = history if history is not None else Path.home() / ".spinwb_history"
    try:
        path.touch()
        hist: FileHistory | InMemoryHistory = FileHistory(str(path))
    except OSError:
        hist = InMemoryHistory()
    prompt: PromptSession[str] = PromptSession(
        history=hist, completer=SessionCompleter(session), complete_while_typing=True
    )
    console.print(
        f"SPIN Workbench shell — {session.position}. `help` lists the commands; tab completes; ctrl-d leaves."
    )
    while True:
        try:
            line = prompt.prompt(f"spinwb [{session.host_name}]> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        reply = execute(session, line)
        _show(console, reply)
        if reply.quit:
            return 0
