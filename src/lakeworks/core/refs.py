"""Asset references and workspace URIs: parsing every form Azure ML accepts.

Owns the grammar of ``azureml:name:version``, ``name:version``, ``name@latest``,
``azureml://registries/<r>/<kind>/<name>/versions/<v>`` (or ``/labels/<label>``), the ARM
long form, ``azureml://datastores/<ds>/paths/<p>`` (short and long) and
``azureml://jobs/<job>/outputs/<output>/paths/<p>``. Pure parsing; resolving a reference to a
stored version is the asset service's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lakeworks.core.names import safe_relative_path, validate_name, validate_version
from lakeworks.errors import InvalidInputError


class AssetKind(StrEnum):
    """The kinds of versioned assets a workspace holds."""

    DATA = "data"
    ENVIRONMENT = "environment"
    COMPONENT = "component"
    MODEL = "model"


_KIND_SEGMENTS = {
    "data": AssetKind.DATA,
    "datas": AssetKind.DATA,
    "environments": AssetKind.ENVIRONMENT,
    "components": AssetKind.COMPONENT,
    "models": AssetKind.MODEL,
}

DEFAULT_DATASTORE = "workspaceblobstore"


@dataclass(frozen=True)
class AssetRef:
    """A reference to one asset version, or to a label (``latest``, ``default``).

    Exactly one of ``version`` and ``label`` is set.
    """

    name: str
    version: str | None = None
    label: str | None = None
    kind: AssetKind | None = None
    registry: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"azureml:{self.name}:{self.version}"
        return f"azureml:{self.name}@{self.label}"


@dataclass(frozen=True)
class DatastorePath:
    """A path inside a named datastore: ``azureml://datastores/<datastore>/paths/<path>``."""

    datastore: str
    path: str

    def __str__(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path}"


@dataclass(frozen=True)
class JobOutputPath:
    """A path inside a job's named output: ``azureml://jobs/<job>/outputs/<output>/paths/<p>``."""

    job: str
    output: str
    path: str = ""


_ARM_RE = re.compile(
    r"^azureml:/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/[^/]+/"
    r"(?P<kind>environments|models|data|datas|components)/(?P<name>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?$",
    re.IGNORECASE,
)
_REGISTRY_RE = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/"
    r"(?P<kind>environments|models|data|datas|components)/(?P<name>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?$"
)
_DATASTORE_SHORT_RE = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$")
_DATASTORE_LONG_RE = re.compile(
    r"^azureml://subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/"
    r"datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$",
    re.IGNORECASE,
)
_JOB_OUTPUT_RE = re.compile(
    r"^azureml://jobs/(?P<job>[^/]+)/outputs/(?P<output>[^/]+)(?:/paths/(?P<path>.*))?$"
)


def parse_asset_ref(text: str, *, kind: AssetKind | None = None) -> AssetRef:
    """Parse any asset reference form Azure ML accepts.

    Args:
        text: the reference, e.g. ``"azureml:credit-card:initial"``, ``"aml-env:0.2.0"``,
            ``"my-model@latest"`` or
            ``"azureml://registries/azureml/environments/sklearn-1.5/labels/latest"``.
        kind: the kind expected here; a registry or ARM reference naming another kind is
            rejected.

    Returns:
        The parsed reference.

    Raises:
        InvalidInputError: the text is not a reference, naming the forms that are.

    Example:
        >>> parse_asset_ref("azureml:credit-card:initial")
        AssetRef(name='credit-card', version='initial', label=None, kind=None, registry=None)
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"asset reference {text!r} is empty")
    text = text.strip()
    for pattern, registry_group in ((_REGISTRY_RE, True), (_ARM_RE, False)):
        m = pattern.match(text)
        if m:
            found = _KIND_SEGMENTS[m.group("kind").lower()]
            if kind is not None and found is not kind:
                raise InvalidInputError(
                    f"reference {text!r} names a {found.value} asset where a {kind.value} "
                    "asset was expected"
                )
            version, label = m.group("version"), m.group("label")
            if version is None and label is None:
                label = "latest"
            return AssetRef(
                name=validate_name(m.group("name")),
                version=validate_version(version) if version is not None else None,
                label=label,
                kind=found,
                registry=m.group("registry") if registry_group else None,
            )
    if text.startswith("azureml://"):
        raise InvalidInputError(
            f"reference {text!r} is not an asset reference; expected "
            "azureml://registries/<registry>/<kind>/<name>/versions/<version> or "
            ".../labels/<label>"
        )
    body = text[len("azureml:") :] if text.startswith("azureml:") else text
    if "@" in body:
        name, _, label = body.partition("@")
        if not label:
            raise InvalidInputError(f"reference {text!r} has an empty label after '@'")
        return AssetRef(name=validate_name(name), label=label, kind=kind)
    if ":" in body:
        name, _, version = body.partition(":")
        return AssetRef(name=validate_name(name), version=validate_version(version), kind=kind)
    raise InvalidInputError(
        f"reference {text!r} names no version; write '{body}:<version>', '{body}@latest' "
        f"or 'azureml:{body}:<version>'"
    )


def is_asset_ref(text: str) -> bool:
    """True when ``text`` parses as an asset reference (and is not a path or data URI)."""
    if text.startswith(("azureml://datastores/", "azureml://jobs/")) or _DATASTORE_LONG_RE.match(
        text
    ):
        return False
    if not text.startswith("azureml:") and ("/" in text or "\\" in text):
        return False
    try:
        parse_asset_ref(text)
    except InvalidInputError:
        return False
    return True


def parse_datastore_uri(text: str) -> DatastorePath | None:
    """Parse ``azureml://datastores/<ds>/paths/<p>`` (short or long form), else None.

    Example:
        >>> parse_datastore_uri("azureml://datastores/workspaceblobstore/paths/a/b.csv")
        DatastorePath(datastore='workspaceblobstore', path='a/b.csv')
    """
    m = _DATASTORE_SHORT_RE.match(text) or _DATASTORE_LONG_RE.match(text)
    if not m:
        return None
    path = m.group("path").rstrip("/")
    return DatastorePath(
        datastore=validate_name(m.group("ds"), what="datastore name"),
        path=safe_relative_path(path, what="datastore path") if path else "",
    )


def parse_job_output_uri(text: str) -> JobOutputPath | None:
    """Parse ``azureml://jobs/<job>/outputs/<output>[/paths/<p>]``, else None."""
    m = _JOB_OUTPUT_RE.match(text)
    if not m:
        return None
    path = (m.group("path") or "").rstrip("/")
    return JobOutputPath(
        job=validate_name(m.group("job"), what="job name"),
        output=validate_name(m.group("output"), what="output name"),
        path=safe_relative_path(path) if path else "",
    )


def datastore_uri(path: str, datastore: str = DEFAULT_DATASTORE) -> str:
    """Build the short datastore URI for a store-relative path."""
    return str(DatastorePath(datastore=datastore, path=safe_relative_path(path)))
