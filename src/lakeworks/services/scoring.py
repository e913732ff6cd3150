"""Registered models as predictors: ``name[:version]`` resolved, its ONNX graph opened.

Owns what an engine's ``PREDICT`` needs from the model registry: a reference (``name`` for the
latest version, ``name:3``, ``azureml:name:3``, ``name@latest``) resolved to one stored
version; the files behind it found locally (a ``.onnx`` file, or an MLflow model folder with
``model.onnx`` beside ``MLmodel``, as AutoML saves its best model); the model opened by the
scorer adapters (role ``onnx_scorer``; an MLflow folder without ONNX through role
``pyfunc_scorer``, slower); a model packed as bytes to ship to other machines and opened
there; and ``Predictor``, which says which of the outputs is a regressor's value, a
classifier's label and its class probabilities. It must not run a model itself (the adapters
do) nor know which engine calls it.

Example:
    >>> model = resolve_model(ws, "rental-prediction-model")  # doctest: +SKIP
    >>> predictor = open_model(model)  # doctest: +SKIP
    >>> predictor.score({"temp": [0.3], "hum": [0.5]})  # doctest: +SKIP
    (array([1234.5], dtype=float32), None)
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lakeworks.core.assets import ModelSpec
from lakeworks.core.refs import AssetKind, AssetRef, parse_asset_ref
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.services import adapter_registry
from lakeworks.services.assets import LATEST, AssetService
from lakeworks.services.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np

ONNX_FILE = "model.onnx"
MLMODEL_FILE = "MLmodel"

#: How a model is scored: its ONNX graph, or MLflow's pyfunc for a folder without one.
ModelFormat = Literal["onnx", "mlflow"]

#: The Spark/SQL type a classifier's label comes out as, by its ONNX element type.
LabelType = Literal["string", "long", "double", "boolean"]
_LABEL_TYPES: dict[str, LabelType] = {
    "tensor(string)": "string", "tensor(int64)": "long", "tensor(int32)": "long",
    "tensor(float)": "double", "tensor(double)": "double", "tensor(bool)": "boolean",
}


def model_ref(text: str) -> AssetRef:
    """Parse a model reference; a bare ``name`` means its latest version.

    Raises:
        InvalidInputError: not a model reference (the message shows the forms that are).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"model reference {text!r} is empty; write 'name' or "
                                "'name:version'", field="model")
    body = text.strip().removeprefix("azureml:")
    if ":" not in body and "@" not in body and "/" not in body:
        return parse_asset_ref(f"{body}@{LATEST}", kind=AssetKind.MODEL)
    return parse_asset_ref(text.strip(), kind=AssetKind.MODEL)


@dataclass(frozen=True)
class ScoringModel:
    """One registered model version and its files on this machine."""

    name: str
    version: str
    path: Path  # a file or a folder
    onnx: Path | None  # the ONNX graph among those files, if any

    @property
    def ref(self) -> str:
        """``name:version``, as messages name it."""
        return f"{self.name}:{self.version}"

    @property
    def is_mlflow(self) -> bool:
        """True for an MLflow model folder (``MLmodel`` inside)."""
        return self.path.is_dir() and (self.path / MLMODEL_FILE).is_file()

    @property
    def format(self) -> ModelFormat:
        """``onnx`` when the files hold an ONNX graph, else ``mlflow`` for an MLflow folder.

        Raises:
            InvalidInputError: neither (the message lists the files and what would do).
        """
        if self.onnx is not None:
            return "onnx"
        if self.is_mlflow:
            return "mlflow"
        raise InvalidInputError(
            f"model '{self.ref}' has no ONNX graph and is no MLflow model "
            f"({_listing(self.path)}); PREDICT scores a .onnx file, a folder holding "
            "model.onnx (AutoML writes one with enable_onnx_compatible_models=True), or an "
            "MLflow model folder (through mlflow.pyfunc, slower)", field="model")

    def content(self) -> bytes:
        """The model as bytes to ship: the ONNX graph, or the MLflow folder zipped."""
        if self.format == "onnx":
            assert self.onnx is not None
            return self.onnx.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
                archive.write(file, file.relative_to(self.path).as_posix())
        return buffer.getvalue()


def resolve_model(ws: Workspace, reference: str) -> ScoringModel:
    """The stored version ``reference`` names, with its files available locally.

    Args:
        ws: the workspace whose registry holds the model.
        reference: ``name`` (latest version), ``name:version``, ``azureml:name:version`` or
            ``name@latest``.

    Returns:
        The version and where its files (and ONNX graph) are.

    Raises:
        NotFoundError: no such model or version; the message names the model and the
            versions that exist.
        InvalidInputError: not a model reference.
    """
    ref = model_ref(reference)
    assets = AssetService(ws)
    try:
        stored = assets.resolve(ref, AssetKind.MODEL)
    except NotFoundError as exc:
        raise NotFoundError(
            f"cannot score with model '{reference}' in workspace '{ws.name}': {exc}") from exc
    spec = stored.to_spec()
    assert isinstance(spec, ModelSpec)
    path = assets.local_copy(spec.path)
    return ScoringModel(stored.name, stored.version, path, find_onnx(path))


def find_onnx(path: Path) -> Path | None:
    """The ONNX graph of a model's files: the file itself, ``model.onnx``, or the only one."""
    if path.is_file():
        return path if path.suffix.lower() == ".onnx" else None
    direct = path / ONNX_FILE
    if direct.is_file():
        return direct
    found = sorted(path.rglob("*.onnx"))
    named = [p for p in found if p.name == ONNX_FILE]
    if len(named) == 1:
        return named[0]
    return found[0] if len(found) == 1 else None


def _listing(path: Path, limit: int = 8) -> str:
    if path.is_file():
        return f"file {path.name}"
    names = sorted(p.name for p in path.iterdir())
    more = ", ..." if len(names) > limit else ""
    return "files: " + (", ".join(names[:limit]) + more if names else "none")


class Predictor:
    """A model's outputs read as predictions: a regressor's value, a classifier's label and
    class probabilities (``[rows, classes]``, in the order of ``classes``).

    Args:
        scorer: the ``onnx_scorer`` adapter over the model's bytes.
        model: the model's name (``name:version``) for messages.
    """

    def __init__(self, scorer: Any, *, model: str) -> None:
        self.scorer = scorer
        self.model = model
        outputs = list(scorer.outputs)
        # a classifier's label: an output so named, or a model's only output when it is text
        self._label = _output_named(outputs, "label") or (
            outputs[0] if len(outputs) == 1 and outputs[0].onnx_type == "tensor(string)"
            else None)
        self._probabilities = _output_named(outputs, "prob")
        self._value = outputs[0]

    @property
    def is_classifier(self) -> bool:
        """True when the graph has a label output (a classifier)."""
        return self._label is not None

    @property
    def label_type(self) -> LabelType:
        """A classifier's label type (``double`` for a regressor's value)."""
        if self._label is None:
            return "double"
        return _LABEL_TYPES.get(self._label.onnx_type, "string")

    @property
    def classes(self) -> list[Any]:
        """A classifier's class labels, in the order of its probabilities (empty if unknown)."""
        return list(getattr(self.scorer, "classes", []) or [])

    @property
    def has_probabilities(self) -> bool:
        """True when the graph has a class-probabilities output."""
        return self._probabilities is not None

    @property
    def columns(self) -> list[str]:
        """The data columns the model reads, in the model's input order."""
        return list(self.scorer.columns)

    def describe_inputs(self) -> str:
        """The model's input columns and their types, for messages."""
        return ", ".join(f"{i.column} ({i.onnx_type.removeprefix('tensor(').rstrip(')')})"
                         for i in self.scorer.inputs)

    def missing(self, available: Sequence[str]) -> list[str]:
        """The model's columns absent from ``available`` (matched case-insensitively)."""
        have = {c.lower() for c in available}
        return [c for c in self.columns if c.lower() not in have]

    def check_columns(self, available: Sequence[str], *, where: str) -> None:
        """Raise unless every input column of the model is in ``available``.

        Raises:
            InvalidInputError: names the missing columns, the columns given and the model's
                inputs.
        """
        missing = self.missing(available)
        if missing:
            raise InvalidInputError(
                f"model '{self.model}' needs column(s) {', '.join(missing)}, not found in "
                f"{where} (given: {', '.join(available) or 'no columns'}); the model takes "
                f"{self.describe_inputs()}", field=missing[0])

    def score(
        self, columns: Mapping[str, Any], *, probabilities: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """One run over ``columns``: the predictions (value or label) and, when asked and the
        model is a classifier, the ``[rows, classes]`` probabilities.

        Raises:
            InvalidInputError: a missing or uncastable column (from the scorer), or
                probabilities asked of a model without them.
        """
        if probabilities:
            self.check_probabilities()
        outputs = self.scorer.score(columns)
        main = outputs[(self._label or self._value).name]
        if not probabilities or self._probabilities is None:
            return main, None
        return main, outputs[self._probabilities.name]

    def check_probabilities(self) -> None:
        """Raise unless the model has class probabilities.

        Raises:
            InvalidInputError: a regressor, or a classifier exported without them.
        """
        if self._probabilities is None:
            raise InvalidInputError(
                f"model '{self.model}' has no class probabilities (its outputs: "
                f"{', '.join(o.name for o in self.scorer.outputs)}); it is "
                f"{'a classifier without them' if self.is_classifier else 'a regressor'}",
                field="probabilities")


def _output_named(outputs: Sequence[Any], part: str) -> Any | None:
    for output in outputs:
        if part in output.name.lower():
            return output
    return None


def open_model(model: ScoringModel) -> Predictor:
    """A ``Predictor`` over a resolved model's local files.

    Raises:
        InvalidInputError: the model has no ONNX graph and is no MLflow model, or cannot be
            loaded.
    """
    if model.format == "mlflow":
        return _open_pyfunc(model.path, model=model.ref)
    return open_predictor(model.content(), model=model.ref)


def open_content(content: bytes, format: ModelFormat, *, model: str) -> Predictor:
    """A ``Predictor`` over shipped bytes (``ScoringModel.content``), on another machine.

    An MLflow folder is unpacked once per content into the temporary folder.
    """
    if format == "onnx":
        return open_predictor(content, model=model)
    digest = hashlib.sha256(content).hexdigest()
    folder = Path(tempfile.gettempdir()) / "lakeworks-models" / digest
    if not folder.is_dir():
        staging = folder.with_name(f".{digest}.{os.getpid()}")
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            archive.extractall(staging)
        try:
            staging.replace(folder)
        except OSError:  # another worker unpacked it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return _open_pyfunc(folder, model=model)


def open_predictor(content: bytes, *, model: str) -> Predictor:
    """A ``Predictor`` over ONNX bytes, through the ``onnx_scorer`` adapter (sessions cached
    per content hash, one intra-op thread each: the engine runs batches in parallel).

    Raises:
        InvalidInputError: the bytes are not a usable ONNX model (names ``model``).
    """
    try:
        scorer = adapter_registry.load("onnx_scorer")(content, threads=1)
    except InvalidInputError as exc:
        raise InvalidInputError(f"model '{model}': {exc.detail}", field="model") from exc
    return Predictor(scorer, model=model)


def _open_pyfunc(folder: Path, *, model: str) -> Predictor:
    try:
        scorer = adapter_registry.load("pyfunc_scorer")(folder)
    except InvalidInputError as exc:
        raise InvalidInputError(f"model '{model}': {exc.detail}", field="model") from exc
    if not scorer.columns:
        raise InvalidInputError(
            f"model '{model}' is an MLflow model without input column names in its "
            "signature, so PREDICT cannot bind columns to it; save it with a signature "
            "(mlflow.models.infer_signature) or export it to ONNX", field="model")
    return Predictor(scorer, model=model)
