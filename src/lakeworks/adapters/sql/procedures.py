"""Recognising T-SQL ``CREATE PROCEDURE`` headers and ``EXEC`` calls over sqlglot tokens.

sqlglot parses neither, so a small recogniser reads them: the header's name, its parameters
(``@p TYPE [= default]``, with or without parentheses) and the body after ``AS`` (inside
``BEGIN ... END`` when present), kept as text; and an ``EXEC``'s name and arguments (named
``@p = value`` or positional; values are literals or ``$p``/``@p`` references to the script's
own parameters). Values are never turned back into SQL text.
"""

from __future__ import annotations

from typing import Any

from sqlglot import Token, TokenType

from lakeworks.adapters.sql.tokens import WORD, Script, read_name, tokenize, upper
from lakeworks.core.sql import (
    CreateProcedure,
    ExecProcedure,
    ParamRef,
    declare_parameter,
    procedure_name,
)
from lakeworks.errors import InvalidInputError

_HEADER_USAGE = "CREATE [OR ALTER] PROCEDURE name [@p TYPE [= default], ...] AS <statements>"
_EXEC_USAGE = "EXEC name [@p = value, ...]"
_DEFAULT = object()  # ``@p = DEFAULT`` in an EXEC: use the declared default


def _fail(source: Script, token: Token | None, what: str, usage: str) -> InvalidInputError:
    where = ""
    if token is not None:
        line, col = source.position(token.start)
        where = f"line {line}, column {col}: "
    return InvalidInputError(f"{where}{what}; write {usage}")


def _marker_name(tokens: list[Token], i: int) -> str | None:
    """The name of the ``@name``/``$name``/``:name`` starting at ``tokens[i]``, if one does."""
    if i + 1 >= len(tokens):
        return None
    tok, nxt = tokens[i], tokens[i + 1]
    if tok.token_type not in (TokenType.PARAMETER, TokenType.COLON) or nxt.start != tok.end + 1:
        return None
    if tok.text not in ("@", "$", ":") or not WORD.match(nxt.text):
        return None
    return nxt.text.lower()


def _literal(source: Script, tokens: list[Token], i: int, usage: str) -> tuple[Any, int]:
    """A literal (number, string, NULL, TRUE/FALSE) at ``tokens[i]`` and the index after it."""
    if i >= len(tokens):
        raise _fail(source, tokens[-1] if tokens else None, "a value is missing", usage)
    tok = tokens[i]
    sign = 1
    if tok.token_type in (TokenType.DASH, TokenType.PLUS) and i + 1 < len(tokens) \
            and tokens[i + 1].token_type == TokenType.NUMBER:
        sign = -1 if tok.token_type == TokenType.DASH else 1
        i, tok = i + 1, tokens[i + 1]
    if tok.token_type == TokenType.NUMBER:
        text = tok.text
        number: int | float = int(text) if text.isdigit() else float(text)
        return sign * number, i + 1
    if tok.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING):
        return tok.text, i + 1
    word = tok.text.upper()
    if word == "NULL":
        return None, i + 1
    if word in ("TRUE", "FALSE"):
        return word == "TRUE", i + 1
    raise _fail(source, tok, f"'{tok.text}' is not a literal value (a number, 'text', NULL, "
                "TRUE or FALSE)", usage)


def procedure_header(source: Script, tokens: list[Token], index: int) -> CreateProcedure:
    """Read ``CREATE [OR ALTER|REPLACE] PROC[EDURE] name [params] AS body`` from ``tokens``.

    Raises:
        InvalidInputError: a malformed header, an unsupported type, ``OUTPUT`` parameters or
            an empty body, naming the line and column.
    """
    line, _ = source.position(tokens[0].start)
    i, replace = 1, False
    if upper(tokens, 1) == "OR":
        i, replace = 3, True
    i += 1
    parts, i = read_name(tokens, i)
    if not parts:
        raise _fail(source, tokens[min(i, len(tokens) - 1)], "the procedure needs a name",
                    _HEADER_USAGE)
    name = procedure_name(".".join(parts))
    paren = i < len(tokens) and tokens[i].token_type == TokenType.L_PAREN
    i += 1 if paren else 0
    declared = []
    seen: set[str] = set()
    while i < len(tokens):
        tok = tokens[i]
        if paren and tok.token_type == TokenType.R_PAREN:
            i += 1
            break
        if not paren and tok.token_type == TokenType.ALIAS:
            break
        pname = _marker_name(tokens, i) if tok.text == "@" else None
        if pname is None:
            raise _fail(source, tok, f"expected a parameter (@name TYPE) or AS, found "
                        f"'{tok.text}'", _HEADER_USAGE)
        if pname in seen:
            raise _fail(source, tok, f"parameter @{pname} is declared twice", _HEADER_USAGE)
        seen.add(pname)
        spec, i = _parameter(source, tokens, i + 2, pname, paren, name)
        declared.append(spec)
        if i < len(tokens) and tokens[i].token_type == TokenType.COMMA:
            i += 1
    if upper(tokens, i) == "WITH":
        raise _fail(source, tokens[i], "procedure options (WITH ...) are not supported",
                    _HEADER_USAGE)
    if i >= len(tokens) or tokens[i].token_type != TokenType.ALIAS:
        raise _fail(source, tokens[min(i, len(tokens) - 1)], "AS is missing before the body",
                    _HEADER_USAGE)
    body = tokens[i + 1:]
    if body and body[0].token_type == TokenType.BEGIN:
        body = body[1:-1]  # the statement splitter ends this statement at the matching END
    while body and body[-1].token_type == TokenType.SEMICOLON:
        body = body[:-1]
    if not body:
        raise _fail(source, tokens[-1], f"procedure '{name}' has an empty body", _HEADER_USAGE)
    text = source.text[body[0].start:body[-1].end + 1]
    statement = source.text[tokens[0].start:tokens[-1].end + 1]
    return CreateProcedure(
        index=index, line=line, sql=statement, name=name, declared=tuple(declared),
        body=text, replace=replace,
    )


def _parameter(
    source: Script, tokens: list[Token], i: int, pname: str, paren: bool, procedure: str
) -> tuple[Any, int]:
    """One parameter's type and default, starting after its ``@name``."""
    start, depth = i, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (tok.token_type in (TokenType.EQ, TokenType.COMMA, TokenType.ALIAS)
                             or tok.text.upper() in ("OUTPUT", "OUT", "READONLY", "VARYING")):
            break
        i += 1
    if i == start:
        raise _fail(source, tokens[min(i, len(tokens) - 1)], f"parameter @{pname} needs a type",
                    _HEADER_USAGE)
    type_text = source.text[tokens[start].start:tokens[i - 1].end + 1]
    if len(type_text.split("(")[0].split()) > 2:
        raise _fail(source, tokens[start], f"parameter @{pname}: {type_text!r} is not a type "
                    "(is AS missing before the body?)", _HEADER_USAGE)
    default: Any = None
    null_default = False
    if i < len(tokens) and tokens[i].token_type == TokenType.EQ:
        default, i = _literal(source, tokens, i + 1, _HEADER_USAGE)
        null_default = default is None
    if upper(tokens, i) in ("OUTPUT", "OUT", "READONLY", "VARYING"):
        raise _fail(source, tokens[i], f"{tokens[i].text.upper()} parameters are not supported",
                    _HEADER_USAGE)
    try:
        spec = declare_parameter(pname, type_text, default, optional=null_default)
    except InvalidInputError as exc:
        line, _ = source.position(tokens[start].start)
        raise InvalidInputError(
            f"line {line}: procedure '{procedure}', parameter @{pname}: {exc.detail}",
            allowed=exc.allowed,
        ) from None
    return spec, i


def exec_arguments(
    source: Script, tokens: list[Token], index: int, known: set[str]
) -> ExecProcedure:
    """Read ``EXEC[UTE] name [@p = value | value, ...]``.

    ``$p`` (or ``@p``/``:p`` of a name in ``known``) as a value refers to the script's
    parameter ``p``.
    """
    line, _ = source.position(tokens[0].start)
    base = tokens[0].end + 1
    raw = source.text[base:tokens[-1].end + 1]
    sub = tokenize(raw)
    for tok in sub:  # positions in the script, for messages
        tok.start += base
        tok.end += base
    parts, i = read_name(sub, 0)
    if not parts or (sub and sub[0].token_type == TokenType.PARAMETER):
        raise _fail(source, sub[0] if sub else tokens[0], "EXEC needs a procedure name "
                    "(dynamic SQL and return values are not supported)", _EXEC_USAGE)
    name = procedure_name(".".join(parts))
    named: dict[str, Any] = {}
    positional: list[Any] = []
    refs: set[str] = set()
    while i < len(sub):
        arg: str | None = None
        if sub[i].text == "@" and i + 2 < len(sub) and sub[i + 2].token_type == TokenType.EQ:
            arg = _marker_name(sub, i)
            if arg is None:
                raise _fail(source, sub[i], "a parameter name is missing after @", _EXEC_USAGE)
            i += 3
        elif named:
            raise _fail(source, sub[i], "positional values must come before named ones",
                        _EXEC_USAGE)
        ref = _marker_name(sub, i)
        if ref is not None and (sub[i].text == "$" or ref in known):
            value: Any = ParamRef(ref)
            refs.add(ref)
            i += 2
        elif ref is not None:
            raise _fail(source, sub[i], f"@{ref} is not a parameter of this script",
                        _EXEC_USAGE)
        elif i < len(sub) and sub[i].text.upper() == "DEFAULT":
            value, i = _DEFAULT, i + 1
        else:
            value, i = _literal(source, sub, i, _EXEC_USAGE)
        if upper(sub, i) in ("OUTPUT", "OUT"):
            raise _fail(source, sub[i], "OUTPUT arguments are not supported", _EXEC_USAGE)
        if arg is not None:
            if arg in named:
                raise _fail(source, sub[i - 1], f"@{arg} is given twice", _EXEC_USAGE)
            if value is not _DEFAULT:
                named[arg] = value
        elif value is _DEFAULT:
            raise _fail(source, sub[i - 1], "DEFAULT needs a name here (@p = DEFAULT), or leave "
                        "the value out", _EXEC_USAGE)
        else:
            positional.append(value)
        if i < len(sub):
            if sub[i].token_type != TokenType.COMMA:
                raise _fail(source, sub[i], f"expected ',' between values, found '{sub[i].text}'",
                            _EXEC_USAGE)
            i += 1
    text = source.text[tokens[0].start:tokens[-1].end + 1]
    return ExecProcedure(
        index=index, line=line, sql=text, parameters=frozenset(refs), name=name,
        named=named, positional_args=tuple(positional),
    )
