"""YAML documents with line numbers: loading, ``--set`` overrides, and errors that point at lines.

Owns reading a YAML file into plain data while remembering the line of every key, applying
``--set a.b=c`` overrides (dotted paths; values read as YAML scalars), and turning pydantic
validation errors into ``InvalidInputError`` naming the file, line, field and allowed values.
Duplicate keys, which YAML parsers silently accept, are rejected.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lakeworks.errors import InvalidInputError, NotFoundError

Loc = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML document, its source file and the line of each key path."""

    data: dict[str, Any]
    path: Path | None
    lines: dict[Loc, int] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """The folder relative paths in the document are read from."""
        return self.path.parent if self.path is not None else Path.cwd()

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc`` or of its nearest enclosing key."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None

    def error(
        self, message: str, loc: Loc = (), *, allowed: Iterable[str] | None = None
    ) -> InvalidInputError:
        """An error pointing at ``loc`` in this document."""
        return InvalidInputError(
            message,
            file=str(self.path) if self.path else None,
            line=self.line(loc),
            field=".".join(str(p) for p in loc) or None,
            allowed=allowed,
        )


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            here = (*loc, key)
            if key in seen:
                raise InvalidInputError(
                    f"duplicate key '{key}'",
                    file=source,
                    line=key_node.start_mark.line + 1,
                    field=".".join(str(p) for p in here),
                )
            seen.add(key)
            lines[here] = key_node.start_mark.line + 1
            _walk(value_node, here, lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), lines, source)


def load_document(
    source: str | Path, *, overrides: Iterable[str] | Mapping[str, Any] | None = None
) -> Document:
    """Read a YAML file into a ``Document``.

    Args:
        source: the YAML file.
        overrides: ``["inputs.lr=0.1", ...]`` strings, or a mapping of dotted paths to values.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: not valid YAML (with the line), not a mapping, duplicate keys, or a
            malformed override.
    """
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise NotFoundError(f"YAML file '{path}' does not exist")
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InvalidInputError(
            f"not valid YAML: {exc.problem}",
            file=str(path),
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise InvalidInputError("the document must be a mapping of fields", file=str(path))
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines, str(path))
    doc = Document(data=data, path=path.resolve(), lines=lines)
    if overrides:
        apply_overrides(doc, overrides)
    return doc


def apply_overrides(doc: Document, overrides: Iterable[str] | Mapping[str, Any]) -> None:
    """Apply ``--set`` style overrides in place (``jobs.train.inputs.lr=0.1``)."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        pairs = list(overrides.items())
    else:
        for item in overrides:
            if isinstance(item, Mapping):
                pairs.extend(item.items())
                continue
            key, sep, raw = str(item).partition("=")
            if not sep or not key.strip():
                raise InvalidInputError(
                    f"override {item!r} must look like key=value (e.g. inputs.lr=0.1)"
                )
            try:
                value = yaml.safe_load(raw) if raw.strip() else ""
            except yaml.YAMLError:
                value = raw
            pairs.append((key.strip(), value))
    for key, value in pairs:
        parts = key.split(".")
        target: Any = doc.data
        for part in parts[:-1]:
            nxt = target.get(part) if isinstance(target, dict) else None
            if nxt is None:
                nxt = {}
                target[part] = nxt
            elif not isinstance(nxt, dict):
                raise InvalidInputError(
                    f"override '{key}': '{part}' is not a mapping", file=str(doc.path)
                )
            target = nxt
        target[parts[-1]] = value


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The pydantic model class that the location ``loc`` falls in (for allowed keys)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return current if isinstance(part, str) else None
            current = current.model_fields[part].annotation
        current = _unwrap(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part: str | int) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
            inner = _unwrap(arg, part)
            if inner is not None and inner is not arg:
                return inner
        return annotation
    if origin in (dict, Mapping):
        return typing.get_args(annotation)[1]
    if origin in (list, tuple):
        return typing.get_args(annotation)[0]
    return annotation


def validate(doc: Document, model: type[BaseModel], what: str) -> Any:
    """Validate the document against a schema model; errors name file, line and field."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise _translate(doc, model, exc, what) from None


def _translate(
    doc: Document, model: type[BaseModel], exc: ValidationError, what: str
) -> InvalidInputError:
    errors = exc.errors()
    # Prefer the most specific error (unions report one error per branch).
    err = max(errors, key=lambda e: (e["type"] == "extra_forbidden", len(e["loc"])))
    loc: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = [
            f.alias or name for name, f in owner.model_fields.items()
        ] if owner else None
        return doc.error(f"unknown field '{loc[-1]}' in {what}", loc, allowed=allowed)
    if kind == "missing":
        return doc.error(f"required field '{loc[-1]}' is missing in {what}", loc)
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        allowed = [s.strip().strip("'") for s in expected.replace(" or ", ",").split(",") if s]
        return doc.error(f"value {err.get('input')!r} is not allowed", loc, allowed=allowed)
    return doc.error(f"{err['msg']} (got {err.get('input')!r})", loc)
