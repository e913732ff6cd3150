"""The verbs every versioned asset noun shares: ``show``, ``list``, ``archive``, ``restore``.

Owns the options and behaviour common to ``data``, ``environment``, ``component`` and
``model`` (``--name/--version/--label``, ``--archived-only``/``--include-archived``), added to
each noun's Typer app by ``add_asset_verbs``. Each noun keeps its own ``create`` and its own
view of an entity (the mapping printed). The SDK is imported inside commands, for startup time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import Column, OutputFormat, OutputOption, emit_record, emit_rows, info
from lakeworks.errors import InvalidInputError

NameOption = Annotated[str, typer.Option("--name", "-n", help="Name of the asset.")]
VersionOption = Annotated[str | None, typer.Option("--version", "-v", help="Version of the asset.")]
LabelOption = Annotated[
    str | None, typer.Option("--label", "-l", help="Label instead of a version: 'latest'.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a field of the YAML file: --set path=value (dotted paths allowed; "
        "repeat for several).",
    ),
]


@dataclass(frozen=True)
class AssetNoun:
    """How one asset noun is named and shown.

    Args:
        command: the CLI noun (``data``).
        group: the ``MLClient`` operation group (``data``, ``environments``).
        what: the noun in sentences (``data asset``).
        example: an example asset name for the help texts.
        view: entity -> mapping printed by show/list.
        columns: the columns of ``list``.
        default_label: the label ``show`` uses when neither version nor label is given
            (components: ``default``); None makes one of them required.
    """

    command: str
    group: str
    what: str
    example: str
    view: Callable[[Any], Mapping[str, Any]]
    columns: Sequence[Column]
    default_label: str | None = None


def operations(ctx: typer.Context, noun: AssetNoun) -> Any:
    """The noun's operation group on the selected workspace's client."""
    return getattr(CliContext.of(ctx).client(), noun.group)


def version_text(name: str, version: str | None, label: str | None) -> str:
    """``'name' version 3``, ``'name' (latest)`` or ``all versions of 'name'``."""
    if version is not None:
        return f"'{name}' version {version}"
    if label is not None:
        return f"'{name}' ({label})"
    return f"all versions of '{name}'"


def add_asset_verbs(app: typer.Typer, noun: AssetNoun) -> None:
    """Add ``show``, ``list``, ``archive`` and ``restore`` for ``noun`` to ``app``."""
    cmd, ex = noun.command, noun.example
    show_default = (
        f" Without --version or --label, the '{noun.default_label}' label is used."
        if noun.default_label
        else ""
    )

    @app.command(
        "show",
        help=f"Show one version of a {noun.what}.{show_default}\n\n"
        f"Examples:\n\n\b\n"
        f"  lakeworks {cmd} show --name {ex} --version 1\n"
        f"  lakeworks {cmd} show -n {ex} --label latest -o json",
    )
    def show(
        ctx: typer.Context,
        name: NameOption,
        version: VersionOption = None,
        label: LabelOption = None,
        output: OutputOption = OutputFormat.TABLE,
    ) -> None:
        if version is None and label is None and noun.default_label is None:
            raise InvalidInputError(
                f"give the version of {noun.what} '{name}' (--version V) or --label latest"
            )
        entity = operations(ctx, noun).get(name, version=version, label=label)
        emit_record(noun.view(entity), output, title=f"{noun.what} {name}:{entity.version}")

    @app.command(
        "list",
        short_help=f"List {noun.what}s (latest versions, or every version of --name).",
        help=f"List {noun.what}s: the latest version of each, or every version of --name.\n\n"
        f"Examples:\n\n\b\n"
        f"  lakeworks {cmd} list\n"
        f"  lakeworks {cmd} list --name {ex}\n"
        f"  lakeworks {cmd} list --include-archived -o json",
    )
    def list_(
        ctx: typer.Context,
        name: Annotated[
            str | None, typer.Option("--name", "-n", help="List every version of this asset.")
        ] = None,
        archived_only: Annotated[
            bool, typer.Option("--archived-only", help="Only archived assets.")
        ] = False,
        include_archived: Annotated[
            bool, typer.Option("--include-archived", help="Archived assets too.")
        ] = False,
        output: OutputOption = OutputFormat.TABLE,
    ) -> None:
        from lakeworks.client.operations import ListViewType  # imported here for startup time

        if archived_only and include_archived:
            raise InvalidInputError("give --archived-only or --include-archived, not both")
        ops = operations(ctx, noun)
        view = ListViewType.ACTIVE_ONLY
        if archived_only:
            view = ListViewType.ARCHIVED_ONLY
        elif include_archived:
            view = ListViewType.ALL
        entities = ops.list(name, list_view_type=view)
        rows = [dict(noun.view(e)) for e in entities]
        columns = list(noun.columns)
        if view is not ListViewType.ACTIVE_ONLY:
            archived = {
                (e.name, e.version)
                for e in ops.list(name, list_view_type=ListViewType.ARCHIVED_ONLY)
            }
            for row, entity in zip(rows, entities, strict=True):
                row["archived"] = (entity.name, entity.version) in archived
            columns.append(Column("archived", "Archived"))
        emit_rows(rows, columns, output, empty=f"No {noun.what}s.")

    def _set_archived(
        ctx: typer.Context, name: str, version: str | None, label: str | None, archive: bool
    ) -> None:
        ops = operations(ctx, noun)
        if archive:
            ops.archive(name, version=version, label=label)
        else:
            ops.restore(name, version=version, label=label)
        done = "Archived" if archive else "Restored"
        info(f"{done} {noun.what} {version_text(name, version, label)}.")

    @app.command(
        "archive",
        short_help=f"Archive a {noun.what} version (or every version).",
        help=f"Archive a {noun.what} version (or every version): hidden from lists and "
        f"'latest', nothing is deleted.\n\n"
        f"Examples:\n\n\b\n"
        f"  lakeworks {cmd} archive --name {ex} --version 1\n"
        f"  lakeworks {cmd} archive --name {ex}",
    )
    def archive(
        ctx: typer.Context,
        name: NameOption,
        version: VersionOption = None,
        label: LabelOption = None,
    ) -> None:
        _set_archived(ctx, name, version, label, True)

    @app.command(
        "restore",
        help=f"Restore an archived {noun.what} version (or every version).\n\n"
        f"Examples:\n\n\b\n"
        f"  lakeworks {cmd} restore --name {ex} --version 1\n"
        f"  lakeworks {cmd} restore --name {ex}",
    )
    def restore(
        ctx: typer.Context,
        name: NameOption,
        version: VersionOption = None,
        label: LabelOption = None,
    ) -> None:
        _set_archived(ctx, name, version, label, False)


def cli_path(path: str | None) -> str | None:
    """A path typed on the command line, absolute (relative to the current folder); URIs and
    ``azureml:`` references pass through."""
    if path is None or "://" in path or path.startswith("azureml:"):
        return path
    return str(Path(path).expanduser().resolve())


CreateVersionOption = Annotated[
    str | None, typer.Option("--version", "-v", help="Version (default: next number).")
]
DescriptionOption = Annotated[str | None, typer.Option("--description", "-d", help="Free text.")]
PathOption = Annotated[
    str | None, typer.Option("--path", "-p", help="Local file or folder, or a URI.")
]


def from_file_or_flags(
    file: Path | None,
    set_values: list[str] | None,
    *,
    load: Callable[..., Any],
    build: Callable[..., Any],
    required: Sequence[str | tuple[str, ...]],
    usage: str,
    **fields: Any,
) -> Any:
    """The entity a ``create`` command registers: its YAML file with ``--set`` and the given
    flags applied, or (without ``--file``) one built from the flags alone.

    Args:
        file: the YAML file, if given.
        set_values: ``--set`` overrides (only with a file).
        load: the loader of that YAML kind (``load_data``).
        build: the entity class, called with the flags.
        required: flags needed without a file (one of them may be a tuple meaning "any of").
        usage: what to say when they are missing.
        **fields: the flags, None when not given.
    """
    if file is not None:
        return load(file, params_override=overrides(set_values, **fields))
    if set_values:
        raise InvalidInputError("--set overrides fields of a YAML file: give --file too")
    for need in required:
        names = need if isinstance(need, tuple) else (need,)
        if all(fields.get(n) is None for n in names):
            raise InvalidInputError(usage)
    return build(**{k: v for k, v in fields.items() if v is not None})


def overrides(set_values: list[str] | None, **fields: Any) -> list[Any]:
    """``params_override`` for a loader: ``--set`` strings, then the flags that were given."""
    result: list[Any] = list(set_values or [])
    given = {k: v for k, v in fields.items() if v is not None}
    if given:
        result.append(given)
    return result
