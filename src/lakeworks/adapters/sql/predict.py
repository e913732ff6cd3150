"""Finding ``PREDICT`` in a statement: the T-SQL rowset clause and the scalar function form.

Owns reading both forms over sqlglot tokens (sqlglot's T-SQL reader stops at ``DATA = t AS
d``, so a small dedicated reader does it): ``PREDICT(MODEL = 'm:1' | @m | (SELECT ...), DATA
= table | (query) | cte [AS d], RUNTIME = ONNX) WITH (out TYPE, ...) [AS] p`` and
``PREDICT('m:1' | $m, col, name := expr, ...)``. A malformed use is an error naming the
offending text with its line, column and a caret. It also writes the skeleton of a statement
whose uses are replaced by plain SQL, so the tables a statement reads can still be listed.
Nothing is resolved or run here; rewriting a use once its model is known is
``predict_sql.py``'s job.
"""

from __future__ import annotations

import re

from sqlglot import Token, TokenType

from lakeworks.adapters.sql.tokens import WORD, Script, read_name, skip_parens, upper, word
from lakeworks.core.predict import (
    ModelSource,
    PredictArgument,
    PredictCall,
    PredictClause,
    PredictOutput,
    PredictUse,
)
from lakeworks.core.sql import excerpt, normalize_type
from lakeworks.errors import InvalidInputError

_CLAUSE_USAGE = ("PREDICT(MODEL = 'name:version' | @model | (SELECT model FROM models WHERE "
                 "id = '...'), DATA = table | (query) [AS d], RUNTIME = ONNX) "
                 "WITH (output TYPE, ...) AS p")
_CALL_USAGE = "PREDICT('name:version', column, ..., input := expression, ...)"
_ARGUMENTS = ("MODEL", "DATA", "RUNTIME")
_NAMED = (TokenType.COLON_EQ, TokenType.FARROW)
_TYPE_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\([0-9A-Za-z_ ,()]*\))?(\[\])*$")
_OPENING = (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE)
_CLOSING = (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE)


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def has_predict(tokens: list[Token]) -> bool:
    """Whether the statement uses ``PREDICT(`` anywhere."""
    return any(_is_predict(tokens, i) for i in range(len(tokens)))


def _is_predict(tokens: list[Token], i: int) -> bool:
    return (tokens[i].text.upper() == "PREDICT" and tokens[i].token_type == TokenType.VAR
            and i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN)


class _Reader:
    """Reads the PREDICT uses of one statement.

    Args:
        source: the script (positions in messages).
        text: the script with parameter markers bound (``@m`` of a known name is ``$m``).
        tokens: the statement's tokens (offsets into the script).
        known: the names of given parameters.
        shift: subtracted from script offsets to give offsets into the statement's ``sql``.
    """

    def __init__(self, source: Script, text: str, tokens: list[Token], known: set[str],
                 shift: int) -> None:
        self.source, self.text, self.tokens = source, text, tokens
        self.known, self.shift = known, shift
        self.cte_text, self.cte_names = _ctes(text, tokens)

    def fail(self, token: Token, what: str, usage: str) -> InvalidInputError:
        """An error at ``token``: what is wrong, the usage, line, column and a caret."""
        line, col = self.source.position(token.start)
        width = token.end - token.start + 1
        return InvalidInputError(
            f"PREDICT: {what}; write {usage} (line {line}, column {col})\n\n"
            f"{excerpt(self.source.text, line, col, width)}", line=line)

    def span(self, first: Token, last: Token) -> str:
        """The bound text from ``first`` to ``last``, inclusive."""
        return self.text[first.start:last.end + 1]

    def read(self) -> tuple[PredictUse, ...]:
        uses: list[PredictUse] = []
        i = 0
        while i < len(self.tokens):
            if not _is_predict(self.tokens, i):
                i += 1
                continue
            close = skip_parens(self.tokens, i + 1)
            if self.tokens[close - 1].token_type != TokenType.R_PAREN \
                    or close - 1 <= i + 1:
                raise self.fail(self.tokens[i], "'PREDICT(' is not closed", _CALL_USAGE)
            inner = self.tokens[i + 2:close - 1]
            if self._nested(inner):
                raise self.fail(self.tokens[i], "PREDICT cannot be used inside another PREDICT",
                                _CLAUSE_USAGE)
            if upper(self.tokens, i + 2) == "MODEL" and len(inner) > 1 \
                    and inner[1].token_type == TokenType.EQ:
                clause, i = self._clause(i, close)
                uses.append(clause)
            else:
                uses.append(self._call(i, close))
                i = close
        return tuple(uses)

    def _nested(self, tokens: list[Token]) -> bool:
        return any(_is_predict(tokens, k) for k in range(len(tokens)))

    # -- the clause ----------------------------------------------------------------------

    def _clause(self, i: int, close: int) -> tuple[PredictClause, int]:
        found: dict[str, tuple[Token, list[Token]]] = {}
        for group in _groups(self.tokens[i + 2:close - 1]):
            if not group:
                raise self.fail(self.tokens[close - 1], "an argument is empty", _CLAUSE_USAGE)
            key = group[0].text.upper()
            if key not in _ARGUMENTS or len(group) < 2 or group[1].token_type != TokenType.EQ:
                raise self.fail(group[0], f"'{self.span(group[0], group[-1])}' is not an "
                                "argument of PREDICT (MODEL = ..., DATA = ..., RUNTIME = ONNX)",
                                _CLAUSE_USAGE)
            if key in found:
                raise self.fail(group[0], f"{key} is given twice", _CLAUSE_USAGE)
            if len(group) == 2:
                raise self.fail(group[1], f"{key} = needs a value", _CLAUSE_USAGE)
            found[key] = (group[0], group[2:])
        for key in ("MODEL", "DATA"):
            if key not in found:
                raise self.fail(self.tokens[i], f"{key} = ... is missing", _CLAUSE_USAGE)
        if "RUNTIME" in found:
            self._runtime(found["RUNTIME"][1])
        model = self._model(found["MODEL"][1], _CLAUSE_USAGE)
        data, data_alias, ctes = self._data(found["DATA"][1])
        outputs, k = self._outputs(close)
        alias, k = self._alias(k, default="p")
        line, col = self.source.position(self.tokens[i].start)
        end = self.tokens[k - 1].end + 1
        clause = PredictClause(
            start=self.tokens[i].start - self.shift, end=end - self.shift, line=line,
            column=col, model=model, data=data, data_alias=data_alias, outputs=outputs,
            alias=alias, ctes=ctes,
        )
        return clause, k

    def _runtime(self, value: list[Token]) -> None:
        if len(value) != 1 or value[0].text.upper() != "ONNX":
            raise self.fail(value[0], f"RUNTIME = {self.span(value[0], value[-1])} is not "
                            "supported: Lakeworks runs ONNX models (RUNTIME = ONNX)",
                            _CLAUSE_USAGE)

    def _model(self, value: list[Token], usage: str) -> ModelSource:
        first = value[0]
        if len(value) == 1 and first.token_type in (TokenType.STRING,
                                                    TokenType.NATIONAL_STRING):
            return ModelSource("literal", first.text)
        marker = _marker(value, 0)
        if marker is not None and len(value) == 2:
            return ModelSource("parameter", marker)
        if first.token_type == TokenType.L_PAREN and skip_parens(value, 0) == len(value) \
                and len(value) > 2 and value[1].token_type in (TokenType.SELECT, TokenType.WITH):
            return ModelSource("subquery", self.span(value[1], value[-2]))
        raise self.fail(first, f"the model '{self.span(first, value[-1])}' must be a "
                        "'name:version' literal, a parameter (@model, $model) or a scalar "
                        "subquery", usage)

    def _data(self, value: list[Token]) -> tuple[str, str, str]:
        """The DATA relation's SQL, its alias, and the CTEs it needs."""
        first = value[0]
        ctes = ""
        if first.token_type == TokenType.L_PAREN:
            k = skip_parens(value, 0)
            if k < 3 or value[1].token_type not in (TokenType.SELECT, TokenType.WITH,
                                                    TokenType.FROM, TokenType.VALUES):
                raise self.fail(first, "DATA = ( must hold a query (SELECT ...)", _CLAUSE_USAGE)
            relation, default = "(" + self.span(value[1], value[k - 2]) + ")", "d"
        else:
            parts, k = read_name(value, 0)
            if not parts:
                raise self.fail(first, f"DATA = {self.span(first, value[-1])} is not a table, "
                                "a (query) or a CTE name", _CLAUSE_USAGE)
            if len(parts) == 2 and parts[0].lower() == "dbo":
                parts = parts[1:]
            if len(parts) == 1 and parts[0].lower() in self.cte_names:
                ctes = self.cte_text
            relation, default = ".".join(quote(p) for p in parts), parts[-1]
        alias = default
        if k < len(value):
            if value[k].token_type == TokenType.ALIAS:
                k += 1
            name = word(value[k]) if k < len(value) else None
            if name is None or k + 1 != len(value):
                where = value[min(k, len(value) - 1)]
                raise self.fail(where, f"'{self.span(where, value[-1])}' after DATA is not "
                                "an alias (DATA = t AS d)", _CLAUSE_USAGE)
            alias = name
        return relation, alias, ctes

    def _outputs(self, k: int) -> tuple[tuple[PredictOutput, ...], int]:
        tokens = self.tokens
        if upper(tokens, k) != "WITH" or k + 1 >= len(tokens) \
                or tokens[k + 1].token_type != TokenType.L_PAREN:
            where = tokens[min(k, len(tokens) - 1)]
            raise self.fail(where, "WITH (output TYPE, ...) must follow PREDICT(...), naming "
                            "the model outputs to return", _CLAUSE_USAGE)
        close = skip_parens(tokens, k + 1)
        if tokens[close - 1].token_type != TokenType.R_PAREN or close - 1 <= k + 2:
            raise self.fail(tokens[k], "WITH ( ... ) needs at least one output and its ')'",
                            _CLAUSE_USAGE)
        outputs: list[PredictOutput] = []
        for group in _groups(tokens[k + 2:close - 1]):
            output = self._output(group, tokens[close - 1])
            if any(o.name.lower() == output.name.lower() for o in outputs):
                raise self.fail(group[0], f"output {output.name} is listed twice",
                                _CLAUSE_USAGE)
            outputs.append(output)
        return tuple(outputs), close

    def _output(self, group: list[Token], after: Token) -> PredictOutput:
        if not group:
            raise self.fail(after, "an output in WITH ( ... ) is empty", _CLAUSE_USAGE)
        parts, k = read_name(group, 0)
        if len(parts) != 1:
            raise self.fail(group[0], f"'{self.span(group[0], group[-1])}' is not an output "
                            "name and type", _CLAUSE_USAGE)
        rest = group[k:]
        while rest and rest[-1].text.upper() == "NULL":
            rest = rest[:-2] if len(rest) > 1 and rest[-2].text.upper() == "NOT" else rest[:-1]
        if not rest:
            raise self.fail(group[0], f"output {parts[0]} needs a type (FLOAT, REAL, BIGINT, "
                            "VARCHAR...)", _CLAUSE_USAGE)
        text = self.span(rest[0], rest[-1])
        if text.startswith("[") and text.endswith("]") and text.count("[") == 1:
            text = text[1:-1]
        return PredictOutput(parts[0], self._type(text, rest[0]))

    def _type(self, text: str, token: Token) -> str:
        try:
            return normalize_type(text)
        except InvalidInputError:
            cleaned = " ".join(text.split())
            if not _TYPE_TEXT.match(cleaned):
                raise self.fail(token, f"'{text}' is not a type", _CLAUSE_USAGE) from None
            return cleaned.upper()

    def _alias(self, k: int, *, default: str) -> tuple[str, int]:
        tokens = self.tokens
        if k < len(tokens) and tokens[k].token_type == TokenType.ALIAS:
            name = word(tokens[k + 1]) if k + 1 < len(tokens) else None
            if name is None:
                raise self.fail(tokens[k], "AS needs the result's alias (AS p)", _CLAUSE_USAGE)
            return name, k + 2
        if k < len(tokens) and (tokens[k].token_type == TokenType.IDENTIFIER or (
                tokens[k].token_type == TokenType.VAR and WORD.match(tokens[k].text))):
            return tokens[k].text, k + 1
        return default, k

    # -- the function form ---------------------------------------------------------------

    def _call(self, i: int, close: int) -> PredictCall:
        groups = _groups(self.tokens[i + 2:close - 1])
        if any(not g for g in groups):
            raise self.fail(self.tokens[i], "an argument is empty", _CALL_USAGE)
        model = self._model(groups[0], _CALL_USAGE)
        arguments = tuple(self._argument(g) for g in groups[1:])
        line, col = self.source.position(self.tokens[i].start)
        return PredictCall(
            start=self.tokens[i].start - self.shift, end=self.tokens[close - 1].end + 1 - self.shift,
            line=line, column=col, model=model, arguments=arguments,
        )

    def _argument(self, group: list[Token]) -> PredictArgument:
        if len(group) > 2 and group[1].token_type in _NAMED and word(group[0]) is not None:
            return PredictArgument(self.span(group[2], group[-1]), group[0].text, named=True)
        if any(t.token_type == TokenType.STAR for t in group):
            raise self.fail(group[0], f"'{self.span(group[0], group[-1])}': pass the columns "
                            "by name, or a whole row as one argument (PREDICT('m', t))",
                            _CALL_USAGE)
        parts, k = read_name(group, 0)
        name = parts[-1] if parts and k == len(group) else None
        return PredictArgument(self.span(group[0], group[-1]), name)


def _marker(tokens: list[Token], i: int) -> str | None:
    """The name of the ``$name``/``@name``/``:name`` at ``tokens[i]``, if one is there."""
    if i + 1 >= len(tokens):
        return None
    tok, nxt = tokens[i], tokens[i + 1]
    if tok.text not in ("$", "@", ":") or nxt.start != tok.end + 1 or not WORD.match(nxt.text):
        return None
    return nxt.text.lower()


def _groups(tokens: list[Token]) -> list[list[Token]]:
    """``tokens`` split at commas outside parentheses, brackets and braces."""
    groups: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.token_type in _OPENING:
            depth += 1
        elif tok.token_type in _CLOSING:
            depth -= 1
        elif tok.token_type == TokenType.COMMA and depth == 0:
            groups.append([])
            continue
        groups[-1].append(tok)
    return groups


def _ctes(text: str, tokens: list[Token]) -> tuple[str, set[str]]:
    """The statement's ``WITH a AS (...), b AS (...)`` text and the names it defines."""
    for k, tok in enumerate(tokens):
        if tok.token_type != TokenType.WITH or k + 1 >= len(tokens):
            continue
        j = k + 1 + (upper(tokens, k + 1) == "RECURSIVE")
        names: set[str] = set()
        end = None
        while j < len(tokens) and word(tokens[j]) is not None:
            name = tokens[j].text.lower()
            j += 1
            if j < len(tokens) and tokens[j].token_type == TokenType.L_PAREN:
                j = skip_parens(tokens, j)  # column names
            if j >= len(tokens) or tokens[j].token_type != TokenType.ALIAS:
                break
            j += 1
            while upper(tokens, j) in ("NOT", "MATERIALIZED"):
                j += 1
            if j >= len(tokens) or tokens[j].token_type != TokenType.L_PAREN:
                break
            j = skip_parens(tokens, j)
            names.add(name)
            end = tokens[j - 1]
            if j < len(tokens) and tokens[j].token_type == TokenType.COMMA:
                j += 1
                continue
            break
        if names and end is not None:
            return text[tok.start:end.end + 1], names
    return "", set()


def find_predictions(
    source: Script, text: str, tokens: list[Token], known: set[str], *, shift: int
) -> tuple[PredictUse, ...]:
    """The PREDICT uses of one statement, in order.

    Args:
        source: the script the tokens come from.
        text: the script with bound parameter markers (``$name``).
        tokens: the statement's tokens.
        known: the given parameters' names.
        shift: what to subtract from a script offset to get an offset into the statement's
            ``sql`` (which keeps only the script's layout before the statement).

    Raises:
        InvalidInputError: a malformed use, naming the offending text, line and column.
    """
    return _Reader(source, text, tokens, known, shift).read()


def skeleton(sql: str, uses: tuple[PredictUse, ...]) -> str:
    """``sql`` with each use replaced by plain SQL reading the same tables (for listing them).

    Example:
        >>> from lakeworks.core.predict import ModelSource
        >>> call = PredictCall(start=7, end=22, line=1, column=8,
        ...                    model=ModelSource("literal", "m"), arguments=())
        >>> skeleton("SELECT PREDICT('m', a) FROM t", (call,))
        'SELECT NULL FROM t'
    """
    out, last = [], 0
    for use in sorted(uses, key=lambda u: u.start):
        out.append(sql[last:use.start])
        model = f"(SELECT ({use.model.value}))" if use.model.kind == "subquery" else ""
        if isinstance(use, PredictClause):
            piece = f"{use.data} AS {quote(use.data_alias)}"
            if model:
                piece += f" CROSS JOIN {model} AS {quote(use.alias)}"
        else:
            values = [model] if model else []
            values += [a.sql for a in use.arguments]
            piece = f"coalesce({', '.join(values)})" if values else "NULL"
        out.append(piece)
        last = use.end
    out.append(sql[last:])
    return "".join(out)
