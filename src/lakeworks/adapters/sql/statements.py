"""Splitting and classifying SQL scripts with sqlglot's tokenizer (DuckDB dialect).

Owns finding where statements end (``;`` outside strings, comments and ``BEGIN ... END``
procedure bodies; T-SQL ``GO`` lines end a batch), recognising the statements Lakeworks runs
itself (``CREATE TABLE ... AS``, ``INSERT INTO``, ``CREATE/DROP PROCEDURE``, ``EXEC``) with a
small recogniser over tokens, rewriting ``@p``/``:p`` parameter markers of known names to
DuckDB's ``$p`` (same length: positions stay true), and listing the tables a statement reads
(a sqlglot parse; ``None`` when it cannot tell), and attaching the ``PREDICT`` uses of
queries, ``CREATE TABLE ... AS`` and ``INSERT`` (read by ``predict.py``). It never regenerates a user's query from a
parse tree and never runs anything.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlglot import Token, TokenType

from lakeworks.adapters.sql.predict import find_predictions, has_predict, skeleton
from lakeworks.adapters.sql.procedures import exec_arguments, procedure_header
from lakeworks.adapters.sql.tables import empty_select, referenced_tables
from lakeworks.adapters.sql.tokens import (
    WORD,
    Script,
    read_name,
    skip_parens,
    tokenize,
    upper,
    word,
)
from lakeworks.core.lake import TableName, WriteMode, parse_table_name
from lakeworks.core.sql import (
    CreateTableAs,
    DropProcedure,
    InsertInto,
    Query,
    Statement,
    TableRef,
    procedure_name,
)
from lakeworks.errors import InvalidInputError

_LOCAL_SCHEMAS = {"temp", "main"}
#: verbs that change the table they name (refused on catalog tables by the service)
_WRITE_VERBS = {"UPDATE", "DELETE", "TRUNCATE", "ALTER", "DROP", "MERGE", "COPY"}
_QUERY_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.FROM,
                 TokenType.L_PAREN}


class _Unfinished(Exception):
    """A ``BEGIN`` without its ``END`` (the shell waits for more lines)."""


def _is_procedure_header(tokens: list[Token], i: int) -> bool:
    if upper(tokens, i) != "CREATE":
        return False
    j = i + 1
    if upper(tokens, j) == "OR" and upper(tokens, j + 1) in ("ALTER", "REPLACE"):
        j += 2
    return upper(tokens, j) in ("PROC", "PROCEDURE")


def _matching_end(tokens: list[Token], begin: int) -> int:
    """Index of the ``END`` closing the ``BEGIN`` at ``begin`` (``CASE ... END`` nests)."""
    depth = 0
    for k in range(begin, len(tokens)):
        word = tokens[k].token_type
        if word in (TokenType.BEGIN, TokenType.CASE):
            depth += 1
        elif word == TokenType.END:
            depth -= 1
            if depth == 0:
                return k
    raise _Unfinished


def _body_start(tokens: list[Token], i: int) -> int:
    """Index of the first body token of the procedure header at ``i`` (after its ``AS``)."""
    depth = 0
    for k in range(i, len(tokens)):
        kind = tokens[k].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        elif kind == TokenType.ALIAS and depth == 0:
            return k + 1
    return len(tokens)


def _statement_end(tokens: list[Token], i: int) -> int:
    """Index just past the statement starting at ``tokens[i]`` (its ``;`` is not included)."""
    if _is_procedure_header(tokens, i):
        body = _body_start(tokens, i)
        if body < len(tokens) and tokens[body].token_type == TokenType.BEGIN:
            return _matching_end(tokens, body) + 1
        return len(tokens)  # T-SQL: without BEGIN ... END the body runs to the end of the batch
    for k in range(i, len(tokens)):
        if tokens[k].token_type == TokenType.SEMICOLON:
            return k
    return len(tokens)


def _batches(script: Script, tokens: list[Token]) -> list[list[Token]]:
    """Tokens grouped by T-SQL batches: a line holding only ``GO`` ends one."""
    batches: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.text.upper() == "GO" and tok.token_type == TokenType.VAR:
            line, _ = script.position(tok.start)
            if script.line_text(line).strip().upper() == "GO":
                batches.append([])
                continue
        batches[-1].append(tok)
    return [b for b in batches if b]


class SqlglotStatementParser:
    """The ``StatementParser`` port over sqlglot's DuckDB tokenizer (and parser, for tables).

    Example:
        >>> [type(s).__name__ for s in SqlglotStatementParser().split("SELECT 1; SELECT 2")]
        ['Query', 'Query']
    """

    def split(self, script: str, parameters: Collection[str] = ()) -> list[Statement]:
        known = {p.lower() for p in parameters}
        source = Script(script)
        tokens = tokenize(script)
        statements: list[Statement] = []
        for batch in _batches(source, tokens):
            i = 0
            while i < len(batch):
                if batch[i].token_type == TokenType.SEMICOLON:
                    i += 1
                    continue
                try:
                    end = _statement_end(batch, i)
                except _Unfinished:
                    line, _ = source.position(batch[i].start)
                    raise InvalidInputError(
                        f"the procedure starting on line {line} has a BEGIN without its END"
                    ) from None
                index = len(statements) + 1
                statements.append(self._classify(source, batch[i:end], index, known))
                i = end
        return statements

    def is_complete(self, text: str) -> bool:
        if not text.strip():
            return False
        try:
            tokens = tokenize(text)
        except InvalidInputError:
            return False
        if not tokens:
            return False
        batches = _batches(Script(text), tokens)
        if not batches:  # only GO lines
            return True
        if text.rstrip().upper().endswith("\nGO") or text.strip().upper() == "GO":
            return True
        last = batches[-1]
        i = 0
        while i < len(last):
            if last[i].token_type == TokenType.SEMICOLON:
                i += 1
                continue
            try:
                end = _statement_end(last, i)
            except _Unfinished:
                return False
            if end >= len(last):
                return last[-1].token_type == TokenType.SEMICOLON
            i = end
        return True

    # -- classification ------------------------------------------------------------------

    def _classify(
        self, source: Script, tokens: list[Token], index: int, known: set[str]
    ) -> Statement:
        first = tokens[0].text.upper()
        start, end = tokens[0].start, tokens[-1].end + 1
        line, _ = source.position(start)
        if _is_procedure_header(tokens, 0):
            return procedure_header(source, tokens, index)
        if first in ("EXEC", "EXECUTE"):
            return exec_arguments(source, tokens, index, known)
        if first == "DROP" and upper(tokens, 1) in ("PROC", "PROCEDURE"):
            return self._drop_procedure(source, tokens, index)
        text, used, variables, positional = _bind_markers(source, tokens, known)
        common: dict[str, Any] = {"index": index, "line": line, "parameters": used}
        if first == "CREATE":
            created = self._create_table(source, tokens, text, common, known)
            if created is not None:
                return created
        if first == "INSERT":
            inserted = self._insert(source, tokens, text, common, known)
            if inserted is not None:
                return inserted
        sql = source.padded(text, start, end)
        return Query(
            sql=sql, writes=_written(tokens), verb=_verb(tokens), variables=variables,
            positional=positional, **_reads(source, text, tokens, known, sql), **common,
        )

    def _drop_procedure(self, source: Script, tokens: list[Token], index: int) -> Statement:
        i = 2
        if_exists = upper(tokens, 2) == "IF" and upper(tokens, 3) == "EXISTS"
        if if_exists:
            i = 4
        parts, j = read_name(tokens, i)
        line, _ = source.position(tokens[0].start)
        if not parts or j != len(tokens):
            raise InvalidInputError(
                f"line {line}: write DROP PROCEDURE [IF EXISTS] name"
            )
        text = source.text[tokens[0].start:tokens[-1].end + 1]
        return DropProcedure(
            index=index, line=line, sql=text, name=procedure_name(".".join(parts)),
            if_exists=if_exists,
        )

    def _create_table(
        self, source: Script, tokens: list[Token], text: str, common: dict[str, Any],
        known: set[str],
    ) -> Statement | None:
        i, mode, temp = 1, WriteMode.ERROR, False
        if upper(tokens, i) == "OR" and upper(tokens, i + 1) == "REPLACE":
            i, mode = i + 2, WriteMode.OVERWRITE
        if upper(tokens, i) in ("TEMP", "TEMPORARY"):
            i, temp = i + 1, True
        if upper(tokens, i) != "TABLE":
            return None
        i += 1
        if upper(tokens, i) == "IF" and upper(tokens, i + 1) == "NOT" \
                and upper(tokens, i + 2) == "EXISTS":
            if mode is WriteMode.OVERWRITE:
                return None  # DuckDB reports the contradiction itself
            i, mode = i + 3, WriteMode.IGNORE
        parts, i = read_name(tokens, i)
        target = _catalog_target(parts, temp)
        if target is None:
            return None
        line, _ = source.position(tokens[0].start)
        if upper(tokens, i) == "WITH" and i + 1 < len(tokens) \
                and tokens[i + 1].token_type == TokenType.L_PAREN:
            i = skip_parens(tokens, i + 1)  # Synapse table options (DISTRIBUTION = ...)
        if i < len(tokens) and tokens[i].token_type == TokenType.ALIAS and i + 1 < len(tokens):
            query_start = tokens[i + 1].start
            sql = source.padded(text, query_start, tokens[-1].end + 1)
            return CreateTableAs(
                sql=sql, target=target, mode=mode,
                **_reads(source, text, tokens[i + 1:], known, sql), **common,
            )
        if i < len(tokens) and tokens[i].token_type == TokenType.L_PAREN:
            statement = source.text[tokens[0].start:tokens[-1].end + 1]
            return CreateTableAs(
                sql=empty_select(statement, line), tables=(), target=target, mode=mode,
                **common,
            )
        raise InvalidInputError(
            f"line {line}: CREATE TABLE {target} needs AS <query> or a column list "
            "(CREATE TABLE t (a INTEGER, b VARCHAR))"
        )

    def _insert(
        self, source: Script, tokens: list[Token], text: str, common: dict[str, Any],
        known: set[str],
    ) -> Statement | None:
        if upper(tokens, 1) != "INTO":
            return None  # INSERT OR REPLACE/IGNORE: a write the service refuses on the catalog
        parts, i = read_name(tokens, 2)
        target = _catalog_target(parts, False)
        if target is None:
            return None
        by_name = False
        if upper(tokens, i) == "BY" and upper(tokens, i + 1) in ("NAME", "POSITION"):
            by_name, i = upper(tokens, i + 1) == "NAME", i + 2
        columns: list[str] = []
        if i + 1 < len(tokens) and tokens[i].token_type == TokenType.L_PAREN \
                and tokens[i + 1].token_type not in _QUERY_STARTS:
            close = skip_parens(tokens, i)
            for tok in tokens[i + 1:close - 1]:
                if tok.token_type != TokenType.COMMA:
                    name = word(tok)
                    if name is None:
                        return None
                    columns.append(name)
            i = close
        if i >= len(tokens) or tokens[i].token_type not in _QUERY_STARTS or _tail_clause(tokens):
            return None
        sql = source.padded(text, tokens[i].start, tokens[-1].end + 1)
        original = source.padded(text, tokens[0].start, tokens[-1].end + 1)
        return InsertInto(
            sql=sql, **_reads(source, text, tokens[i:], known, sql), target=target,
            columns=tuple(columns),
            by_name=by_name, original=original, **common,
        )


def _reads(
    source: Script, text: str, tokens: list[Token], known: set[str], sql: str
) -> dict[str, Any]:
    """The tables read by ``sql`` (the padded text of ``tokens``) and its PREDICT uses."""
    if not has_predict(tokens):
        return {"tables": referenced_tables(sql)}
    line, col = source.position(tokens[0].start)
    shift = tokens[0].start - (line - 1) - (col - 1)
    uses = find_predictions(source, text, tokens, known, shift=shift)
    return {"tables": referenced_tables(skeleton(sql, uses)), "predictions": uses}


def _catalog_target(parts: list[str], temp: bool) -> TableName | None:
    """The catalog table a CREATE/INSERT names, or None for a session-local table."""
    if temp or not parts or len(parts) > 2:
        return None
    if len(parts) == 2 and parts[0].lower() in _LOCAL_SCHEMAS:
        return None
    return parse_table_name(".".join(parts))


def _tail_clause(tokens: list[Token]) -> bool:
    """Whether an INSERT has ``ON CONFLICT`` or ``RETURNING`` (left to the engine)."""
    depth = 0
    for k, tok in enumerate(tokens):
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and (tok.text.upper() == "RETURNING" or (
                tok.text.upper() == "ON" and upper(tokens, k + 1) == "CONFLICT")):
            return True
    return False


def _bind_markers(
    source: Script, tokens: list[Token], known: set[str]
) -> tuple[str, frozenset[str], frozenset[str], bool]:
    """The script with ``@p``/``:p``/``$P`` of this statement turned into ``$p`` (same length),
    the parameter names used, unknown ``@names`` and whether ``$1``/``?`` occur."""
    chars: list[str] | None = None
    used: set[str] = set()
    variables: set[str] = set()
    positional = False
    nested = 0  # inside [...] or {...} a colon is a slice or a struct key, not a marker
    for k, tok in enumerate(tokens):
        if tok.token_type in (TokenType.L_BRACKET, TokenType.L_BRACE):
            nested += 1
        elif tok.token_type in (TokenType.R_BRACKET, TokenType.R_BRACE):
            nested = max(nested - 1, 0)
        if tok.token_type == TokenType.PLACEHOLDER:
            positional = True
            continue
        if tok.token_type not in (TokenType.PARAMETER, TokenType.COLON) or k + 1 >= len(tokens):
            continue
        if tok.token_type == TokenType.COLON and nested:
            continue
        nxt = tokens[k + 1]
        if nxt.start != tok.end + 1:
            continue
        if tok.text == "$" and nxt.token_type == TokenType.NUMBER:
            positional = True
            continue
        if not WORD.match(nxt.text) or nxt.token_type == TokenType.IDENTIFIER:
            continue
        name = nxt.text.lower()
        if tok.text == "@" and name not in known:
            variables.add(name)
            continue
        if tok.text == ":" and name not in known:
            continue
        if tok.text not in ("$", "@", ":"):
            continue
        used.add(name)
        if tok.text != "$" or nxt.text != name:
            chars = chars if chars is not None else list(source.text)
            chars[tok.start] = "$"
            chars[nxt.start:nxt.end + 1] = list(name)
    text = "".join(chars) if chars is not None else source.text
    return text, frozenset(used), frozenset(variables), positional


def _written(tokens: list[Token]) -> TableRef | None:
    """The table an UPDATE/DELETE/DROP/ALTER/TRUNCATE/MERGE/COPY/INSERT OR ... changes."""
    verb = tokens[0].text.upper()
    i = 1
    if verb == "INSERT":
        while i < len(tokens) and upper(tokens, i) != "INTO":
            i += 1
        i += 1
    elif verb not in _WRITE_VERBS:
        return None
    elif verb in ("DROP", "ALTER"):
        if upper(tokens, 1) not in ("TABLE", "VIEW"):
            return None
        i = 2
        if upper(tokens, i) == "IF" and upper(tokens, i + 1) == "EXISTS":
            i += 2
    elif verb == "DELETE" or verb == "MERGE":
        i = 2 if upper(tokens, 1) in ("FROM", "INTO") else 1
    elif verb == "TRUNCATE" and upper(tokens, 1) == "TABLE":
        i = 2
    parts, _ = read_name(tokens, i)
    if not parts or len(parts) > 2:
        return None
    return (parts[0] if len(parts) == 2 else None, parts[-1])


def _verb(tokens: list[Token]) -> str:
    words = [t.text.upper() for t in tokens[:3] if WORD.match(t.text)]
    if words[:1] == ["INSERT"]:
        return " ".join(words[:3])
    return " ".join(words[:2]) if words[:1] in (["DROP"], ["ALTER"]) else " ".join(words[:1])
