"""What the CLI and the station display print, made safe for a terminal.

Threat model: file names come from recorders and cards, and ledger bodies, error messages and log
records repeat them. A name with ``\\n`` forges a line of the station's console; one with an
escape sequence (an OSC title, a CSI that clears the screen or moves the cursor) reaches the
terminal raw. So every path that prints — ``out`` for the commands, ``PrintableFormatter`` for
logging, the live table's cells — goes through :func:`printable`, which shows each control
character as a visible escape (``\\n``, ``\\x1b``, ``\\u202e``) instead of obeying it.
"""

from __future__ import annotations

import logging
import re

import typer

# C0 controls except TAB (column separator of `tokens list`, harmless on a terminal), DEL, C1
# controls (U+0080–U+009F: 8-bit CSI/OSC), and the Unicode controls that reorder or break what
# a person reads (bidi embeddings/overrides/isolates, LRM/RLM/ALM, line/paragraph separators).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape, never obeyed."""
    return _CONTROL.sub(_escape, text)


def out(text: str, *, err: bool = False) -> None:
    """Print one line of the CLI (stdout, or stderr with ``err``)."""
    typer.echo(printable(text), err=err)


def fail_line(text: str) -> None:
    """An error line: stderr, red."""
    typer.secho(printable(text), err=True, fg=typer.colors.RED)


class PrintableFormatter(logging.Formatter):
    """Log lines with the message escaped (tracebacks stay as they are: they are ours)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))
