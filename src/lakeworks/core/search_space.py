"""Search spaces of sweeps: Azure's distributions and how samplers draw from them.

Owns Azure's ten distributions (``choice``, ``uniform``, ``loguniform``, ``quniform``,
``qloguniform``, ``normal``, ``lognormal``, ``qnormal``, ``qlognormal``, ``randint``) as frozen
specs, how each maps to a sampler dimension and back to a value, and the literal type of its
values. No I/O, no sampler library.

How values are drawn: a sampler only ever sees three kinds of dimension, a categorical one, a
float range (optionally log-scaled) and an integer range. ``LogUniform(a, b)`` is a log-scaled
float range over ``exp(a)..exp(b)``. ``Q*`` values are drawn continuously and rounded to
``round(x / q) * q`` (an int when ``q`` is whole). The normal family has no bounded range: the
sampler draws ``u`` in (0, 1) and the value is the inverse normal CDF,
``mu + sigma * Phi^-1(u)`` (``exp`` of that for the log forms), so random, Sobol and TPE
sampling all stay correct for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from lakeworks.core.io import IOType
from lakeworks.errors import InvalidInputError

Scalar = str | int | float | bool
_EDGE = 1e-12  # u is kept inside (0, 1): the inverse CDF is infinite at the ends


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Range(_Frozen):
    min_value: float
    max_value: float

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if not self.min_value < self.max_value:
            raise ValueError(f"min_value ({self.min_value}) must be below max_value "
                             f"({self.max_value})")
        return self


class _Quantised(_Frozen):
    q: float = Field(gt=0)


class _Gaussian(_Frozen):
    mu: float
    sigma: float = Field(gt=0)


class ChoiceSpec(_Frozen):
    """One of ``values``."""

    type: Literal["choice"] = "choice"
    values: tuple[Scalar, ...] = Field(min_length=1)


class UniformSpec(_Range):
    """Uniform over ``min_value..max_value``."""

    type: Literal["uniform"] = "uniform"


class LogUniformSpec(_Range):
    """``exp(uniform(min_value, max_value))``: log-uniform over ``exp(min)..exp(max)``."""

    type: Literal["loguniform"] = "loguniform"


class QUniformSpec(_Range, _Quantised):
    """``round(uniform(min_value, max_value) / q) * q``."""

    type: Literal["quniform"] = "quniform"


class QLogUniformSpec(_Range, _Quantised):
    """``round(exp(uniform(min_value, max_value)) / q) * q``."""

    type: Literal["qloguniform"] = "qloguniform"


class NormalSpec(_Gaussian):
    """Normal with mean ``mu`` and standard deviation ``sigma``."""

    type: Literal["normal"] = "normal"


class LogNormalSpec(_Gaussian):
    """``exp(normal(mu, sigma))``."""

    type: Literal["lognormal"] = "lognormal"


class QNormalSpec(_Gaussian, _Quantised):
    """``round(normal(mu, sigma) / q) * q``."""

    type: Literal["qnormal"] = "qnormal"


class QLogNormalSpec(_Gaussian, _Quantised):
    """``round(exp(normal(mu, sigma)) / q) * q``."""

    type: Literal["qlognormal"] = "qlognormal"


class RandintSpec(_Frozen):
    """An integer in ``0..upper-1`` (the upper bound is exclusive)."""

    type: Literal["randint"] = "randint"
    upper: int = Field(ge=1)


Distribution = Annotated[
    ChoiceSpec | UniformSpec | LogUniformSpec | QUniformSpec | QLogUniformSpec | NormalSpec
    | LogNormalSpec | QNormalSpec | QLogNormalSpec | RandintSpec,
    Field(discriminator="type"),
]
_DISTRIBUTION: TypeAdapter[Distribution] = TypeAdapter(Distribution)
DISTRIBUTION_TYPES = ("choice", "uniform", "loguniform", "quniform", "qloguniform", "normal",
                      "lognormal", "qnormal", "qlognormal", "randint")
_GAUSSIAN = (NormalSpec, LogNormalSpec, QNormalSpec, QLogNormalSpec)
_LOG_RANGE = (LogUniformSpec, QLogUniformSpec)


def invalid(exc: ValidationError, where: str) -> InvalidInputError:
    """A pydantic error of a sweep setting as an InvalidInputError naming ``where.<field>``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]
                   if str(p) not in DISTRIBUTION_TYPES and not str(p).startswith(("function-", "[")))
    message = str(err["msg"]).removeprefix("Value error, ")
    field = f"{where}.{loc}" if loc and where else (loc or where)
    return InvalidInputError(message, field=field or None)


def distribution_from(data: Mapping[str, Any], where: str) -> Distribution:
    """A distribution from its YAML/JSON form (``{type: uniform, min_value: 0, max_value: 1}``).

    Raises:
        InvalidInputError: no or an unknown ``type`` (naming ``<where>.type`` and the types
            allowed), a missing or bad field, or an empty or inverted range.

    Example:
        >>> distribution_from({"type": "randint", "upper": 4}, "search_space.k").upper
        4
    """
    kind = data.get("type") if isinstance(data, Mapping) else None
    if kind not in DISTRIBUTION_TYPES:
        what = "has no 'type'" if kind is None else f"has unknown type {kind!r}"
        raise InvalidInputError(f"search space entry '{where}' {what}", field=f"{where}.type",
                                allowed=DISTRIBUTION_TYPES)
    try:
        return _DISTRIBUTION.validate_python(dict(data))
    except ValidationError as exc:
        raise invalid(exc, where) from None


# -- sampler dimensions and values ------------------------------------------------------------


class Dimension(_Frozen):
    """What a sampler draws for one hyperparameter (see the module docstring)."""

    kind: Literal["categorical", "float", "int"]
    values: tuple[Scalar, ...] = ()
    low: float = 0.0
    high: float = 1.0
    log: bool = False


def dimension(dist: Distribution) -> Dimension:
    """The sampler dimension behind a distribution.

    Example:
        >>> dimension(LogUniformSpec(min_value=0, max_value=1)).high == math.e
        True
    """
    if isinstance(dist, ChoiceSpec):
        return Dimension(kind="categorical", values=dist.values)
    if isinstance(dist, RandintSpec):
        return Dimension(kind="int", low=0, high=dist.upper - 1)
    if isinstance(dist, _GAUSSIAN):
        return Dimension(kind="float", low=0.0, high=1.0)
    assert isinstance(dist, _Range)
    if isinstance(dist, _LOG_RANGE):
        return Dimension(kind="float", low=math.exp(dist.min_value),
                         high=math.exp(dist.max_value), log=True)
    return Dimension(kind="float", low=dist.min_value, high=dist.max_value)


def quantise(x: float, q: float) -> float | int:
    """``round(x / q) * q``; an int when ``q`` is a whole number.

    Example:
        >>> quantise(0.34, 0.1), quantise(7.4, 5)
        (0.3, 5)
    """
    steps = round(x / q)
    if float(q).is_integer():
        return int(steps * int(q))
    return float(f"{steps * q:.12g}")


def value_of(dist: Distribution, raw: Scalar) -> Scalar:
    """The hyperparameter value for what the sampler drew on ``dimension(dist)``.

    Example:
        >>> value_of(NormalSpec(mu=10, sigma=2), 0.5)
        10.0
    """
    if isinstance(dist, ChoiceSpec):
        return raw
    if isinstance(dist, RandintSpec):
        return int(raw)
    x = float(raw)
    if isinstance(dist, _GAUSSIAN):
        u = min(max(x, _EDGE), 1.0 - _EDGE)
        x = NormalDist(dist.mu, dist.sigma).inv_cdf(u)
        if isinstance(dist, LogNormalSpec | QLogNormalSpec):
            x = math.exp(x)
    if isinstance(dist, QUniformSpec | QLogUniformSpec | QNormalSpec | QLogNormalSpec):
        return quantise(x, dist.q)
    return x


def input_type(dist: Distribution) -> IOType:
    """The literal type a trial input gets for values of ``dist``."""
    if isinstance(dist, RandintSpec):
        return IOType.INTEGER
    if isinstance(dist, ChoiceSpec):
        values = dist.values
        if all(isinstance(v, bool) for v in values):
            return IOType.BOOLEAN
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return IOType.INTEGER
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return IOType.NUMBER
        return IOType.STRING
    if isinstance(dist, _Quantised) and float(dist.q).is_integer():
        return IOType.INTEGER
    return IOType.NUMBER
