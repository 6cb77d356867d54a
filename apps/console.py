"""The console every command prints to."""

from __future__ import annotations

from rich.console import Console

# Off a terminal (a file, a pipe, a CI log) nothing has a width to fit: tables take the
# width they need, up to this, instead of folding into one-word cells at 80 columns.
UNBOUNDED_WIDTH = 512


def make_console() -> Console:
    """A terminal's width on a terminal; elsewhere wide enough that no table wraps."""
    console = Console()
    return console if console.is_terminal else Console(width=UNBOUNDED_WIDTH)
