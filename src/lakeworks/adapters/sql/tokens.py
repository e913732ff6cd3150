"""Tokens of SQL text (sqlglot's DuckDB tokenizer) and positions in a script.

Owns turning text into tokens (an unterminated string or comment becomes an error naming the
line), offsets into 1-based lines and columns, keeping a script's layout in front of a
statement's text, and reading names (``a``, ``"a".b``, ``[dbo].[p]``) from tokens.
"""

from __future__ import annotations

import bisect
import re

from sqlglot import Token, TokenType
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import TokenError

from lakeworks.errors import InvalidInputError

WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Script:
    """A script's text and where each line starts (offsets to 1-based lines and columns)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of ``offset``."""
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        """The text of the 1-based ``line``, without its newline."""
        starts = self._starts
        stop = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1]:stop]

    def padded(self, text: str, start: int, end: int) -> str:
        """``text[start:end]`` with the script's layout before it (newlines, then spaces)."""
        line, col = self.position(start)
        return "\n" * (line - 1) + " " * (col - 1) + text[start:end]


def tokenize(text: str) -> list[Token]:
    """sqlglot tokens of ``text`` (DuckDB dialect).

    Raises:
        InvalidInputError: an unterminated string, quoted name or comment, naming the line.
    """
    tokenizer = DuckDB.Tokenizer()
    try:
        return list(tokenizer.tokenize(text))
    except TokenError:
        done = getattr(getattr(tokenizer, "_core", tokenizer), "tokens", None) or []
        after = done[-1].end + 1 if done else 0
        rest = text[after:]
        offset = after + (len(rest) - len(rest.lstrip()))
        line, col = Script(text).position(min(offset, max(len(text) - 1, 0)))
        raise InvalidInputError(
            f"the SQL cannot be read from line {line}, column {col}: an unterminated string, "
            "quoted name or comment; close it ('...', \"...\", /* ... */)"
        ) from None


def word(token: Token) -> str | None:
    """The token as a name (a bare word, a keyword or a quoted name), else None."""
    if token.token_type == TokenType.IDENTIFIER:
        return token.text
    if token.token_type in (TokenType.STRING, TokenType.NUMBER, TokenType.PARAMETER):
        return None
    return token.text if WORD.match(token.text) else None


def read_name(tokens: list[Token], i: int) -> tuple[list[str], int]:
    """A dotted name starting at ``tokens[i]`` (``a``, ``"a".b``, ``[dbo].[p]``), and the index
    after it; ``([], i)`` when there is none."""
    parts: list[str] = []
    while i < len(tokens):
        tok = tokens[i]
        if tok.token_type == TokenType.L_BRACKET and i + 2 < len(tokens) \
                and tokens[i + 2].token_type == TokenType.R_BRACKET and word(tokens[i + 1]):
            parts.append(tokens[i + 1].text)
            i += 3
        elif (name := word(tok)) is not None:
            parts.append(name)
            i += 1
        else:
            break
        if i < len(tokens) and tokens[i].token_type == TokenType.DOT:
            i += 1
            continue
        break
    return parts, i


def upper(tokens: list[Token], i: int) -> str:
    """``tokens[i]``'s text upper-cased, or "" past the end."""
    return tokens[i].text.upper() if i < len(tokens) else ""


def skip_parens(tokens: list[Token], i: int) -> int:
    """Index just past the parenthesis group opening at ``tokens[i]``."""
    depth = 0
    for k in range(i, len(tokens)):
        if tokens[k].token_type == TokenType.L_PAREN:
            depth += 1
        elif tokens[k].token_type == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return k + 1
    return len(tokens)


