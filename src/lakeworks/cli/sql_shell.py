"""The interactive SQL shell of ``lakeworks sql`` (no query given).

Owns reading statements line by line (a statement runs when it ends with ``;``; a
procedure's ``BEGIN ... END`` is waited for), showing each result, the dot commands
(``.tables``/``\\dt``, ``.procedures``/``\\df``, ``.help``, ``.quit``), and history through
readline when it is available. Input that is not a terminal (a pipe, a file) is read without
prompts; there a failed statement makes the exit code 1. Errors never end the shell.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from lakeworks.cli.output import error, info
from lakeworks.cli.results import ResultFormat, emit_result
from lakeworks.errors import LakeworksError

if TYPE_CHECKING:
    from lakeworks.client.sql import SqlOperations

PROMPT = "lakeworks> "
MORE = "       ...> "
_HISTORY_LENGTH = 1000
_HELP = """Statements end with ';'. Lake tables are db.table (or the bare name for 'default').
  .tables, \\dt        list the lake tables
  .procedures, \\df    list saved procedures
  .help, \\?           this help
  .quit, \\q           leave (or Ctrl-D)
EXEC name @p = value; runs a saved procedure; CREATE PROCEDURE saves one."""


class SqlShell:
    """A read-run-print loop over ``ml_client.sql``.

    Args:
        sql: the SDK's SQL operations (one engine for the whole session).
        stream: where lines come from; standard input when None.
        history: readline's history file (interactive sessions only).
        max_rows: rows shown per result.
    """

    def __init__(
        self,
        sql: SqlOperations,
        *,
        stream: TextIO | None = None,
        history: Path | None = None,
        max_rows: int = 100,
    ) -> None:
        self.sql = sql
        self.stream = stream or sys.stdin
        self.interactive = self.stream.isatty()
        self.history = history
        self.max_rows = max_rows
        self.failures = 0

    def run(self) -> int:
        """Run until ``.quit`` or the end of input; the number of failed statements."""
        readline = self._start_history()
        if self.interactive:
            info("Lakeworks SQL shell. End statements with ';'. Type .help for help.")
        try:
            self._loop()
        finally:
            if readline is not None and self.history is not None:
                try:
                    readline.write_history_file(str(self.history))
                except OSError:
                    pass  # history is a convenience: a read-only folder must not fail the shell
        return self.failures

    def _loop(self) -> None:
        buffer: list[str] = []
        while True:
            line = self._read(MORE if buffer else PROMPT)
            if line is None:
                break
            if not buffer:
                command = line.strip()
                if not command:
                    continue
                if command.startswith((".", "\\")) or command.lower() in ("quit", "exit"):
                    if not self._command(command):
                        return
                    continue
            buffer.append(line)
            text = "\n".join(buffer)
            if self.sql.is_complete(text):
                buffer = []
                self._execute(text)
        rest = "\n".join(buffer)
        if rest.strip():
            self._execute(rest)

    def _read(self, prompt: str) -> str | None:
        if self.interactive:
            try:
                return input(prompt)
            except EOFError:
                sys.stdout.write("\n")
                return None
            except KeyboardInterrupt:
                sys.stdout.write("^C\n")
                return ""
        line = self.stream.readline()
        return None if line == "" else line.rstrip("\n")

    def _command(self, command: str) -> bool:
        """Run a dot command; False means leave."""
        word = command.split()[0].lower()
        if word in (".quit", ".exit", "\\q", "quit", "exit"):
            return False
        try:
            if word in (".tables", "\\dt"):
                names = self.sql.tables()
                info("\n".join(names) if names else "No lake tables yet.")
            elif word in (".procedures", "\\df"):
                procs = self.sql.list_procedures()
                info("\n".join(_signature(p) for p in procs) if procs else "No procedures yet.")
            elif word in (".help", "\\?", "\\h"):
                info(_HELP)
            else:
                error(f"unknown command {word!r}; type .help")
                self.failures += 1
        except LakeworksError as exc:
            error(str(exc))
            self.failures += 1
        return True

    def _execute(self, text: str) -> None:
        try:
            result = self.sql(text)
        except LakeworksError as exc:
            error(str(exc))
            self.failures += 1
            return
        except KeyboardInterrupt:
            error("interrupted")
            return
        emit_result(result, ResultFormat.TABLE, max_rows=self.max_rows)

    def _start_history(self) -> Any:
        if not self.interactive:
            return None
        try:
            import readline  # optional: missing on some platforms
        except ImportError:
            return None
        readline.set_history_length(_HISTORY_LENGTH)
        if self.history is not None and self.history.is_file():
            try:
                readline.read_history_file(str(self.history))
            except OSError:
                pass  # an unreadable history file only costs the old history
        return readline


def _signature(record: object) -> str:
    name = getattr(record, "name", "")
    params = ", ".join(
        f"@{p.name} {p.type}" + (f" = {p.default!r}" if p.default is not None else "")
        for p in getattr(record, "parameters", ())
    )
    return f"{name}({params})"
