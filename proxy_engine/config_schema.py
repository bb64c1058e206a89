"""The small typed-record layer `config.py` declares its schema with (in place of pydantic, issue #16).

Loading pydantic and building its validators for the config models cost `serve` about 11 MiB and a
tenth of a second at every start; the config needs only this much of it. A `ConfigModel` subclass
declares typed fields (`str`, `int`, `float`, `bool`, `Literal[...]`, `list[...]`, `dict[str, ...]`,
unions, `X | None`, nested models) with `Field(default=, default_factory=, ge=, gt=, le=, pattern=)`,
plus `field_validator` / `model_validator` hooks. Validation follows pydantic's lax mode for these
types, and every error has pydantic's location and wording (`Input should be ...`, `Field required`,
`Extra inputs are not permitted`, union members tagged `str`, `dict[str,str]` or the model's name), so
`ConfigIssue` lines and messages read as before. Instances are frozen, compare by value and have
`model_dump()`.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self, get_args, get_origin

Loc = tuple[str | int, ...]
# A compiled check: (value, location) -> (converted value, errors). An error is (location, message).
Check = Callable[[Any, Loc], tuple[Any, list[tuple[Loc, str]]]]
_MISSING: Any = object()
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INT_TEXT = re.compile(r"\s*([+-]?[0-9](?:_?[0-9])*)(?:\.0*)?\s*", re.ASCII)


class SchemaViolation(ValueError):
    """Invalid input for a ConfigModel; `errors()` lists each problem as pydantic does (`loc`, `msg`)."""

    def __init__(self, model: str, problems: list[tuple[Loc, str]]) -> None:
        lines = "\n".join(f"{'.'.join(map(str, loc)) or model}\n  {msg}" for loc, msg in problems)
        super().__init__(f"{len(problems)} validation error{'s' if len(problems) != 1 else ''} for {model}\n{lines}")
        self.problems = problems

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": loc, "msg": msg} for loc, msg in self.problems]


@dataclass(frozen=True)
class FieldSpec:
    default: Any = _MISSING
    default_factory: Callable[[], Any] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    pattern: str | None = None
    description: str | None = None


def Field(
    default: Any = _MISSING,  # noqa: ANN401  (any default, as pydantic's Field)
    *,
    default_factory: Callable[[], Any] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    pattern: str | None = None,
    description: str | None = None,
) -> Any:  # noqa: ANN401  (typed as the field's own type where it is assigned)
    return FieldSpec(default, default_factory, ge, gt, le, pattern, description)


@dataclass
class _Hook:
    func: Callable[..., Any]
    fields: tuple[str, ...] = ()
    mode: str = "after"


def field_validator(*fields: str, mode: Literal["before", "after"] = "after") -> Callable[[Any], _Hook]:
    """`(cls, value) -> value` run on a field before or after its type check; a ValueError is its error."""

    def mark(func: Callable[..., object] | classmethod) -> _Hook:
        return _Hook(func.__func__ if isinstance(func, classmethod) else func, fields, mode)

    return mark


def model_validator(*, mode: Literal["after"] = "after") -> Callable[[Any], _Hook]:
    """`(self) -> self` run once every field is valid; a ValueError is an error of the whole model."""

    def mark(func: Callable[..., object] | classmethod) -> _Hook:
        return _Hook(func, (), "model")

    return mark


@dataclass
class _Schema:
    fields: dict[str, tuple[Check, FieldSpec]] = field(default_factory=dict)
    before: dict[str, list[Callable[..., Any]]] = field(default_factory=dict)
    after: dict[str, list[Callable[..., Any]]] = field(default_factory=dict)
    model: list[Callable[..., Any]] = field(default_factory=list)


class ConfigModel:
    """A frozen record validated on construction: `Model(**data)` or `Model.model_validate(data)`."""

    _schema: ClassVar[_Schema | None] = None
    _hooks: ClassVar[list[_Hook]] = []

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        hooks = [h for base in cls.__bases__ for h in getattr(base, "_hooks", [])]
        for name, value in list(vars(cls).items()):
            if isinstance(value, _Hook):
                hooks.append(value)
                delattr(cls, name)
        cls._hooks = hooks
        cls._schema = None  # compiled on first use: annotations may name classes declared later

    def __init__(self, **data: object) -> None:
        values, problems = _validate_fields(type(self), data, ())
        if problems:
            raise SchemaViolation(type(self).__name__, problems)
        object.__setattr__(self, "__dict__", values)
        problems = _run_model_hooks(self, ())
        if problems:
            raise SchemaViolation(type(self).__name__, problems)

    @classmethod
    def model_validate(cls, data: object) -> Self:
        value, problems = _model_check(cls)(data, ())
        if problems:
            raise SchemaViolation(cls.__name__, problems)
        return value

    def model_dump(self) -> dict[str, Any]:
        return {k: _dump(v) for k, v in self.__dict__.items()}

    def __setattr__(self, name: str, value: object) -> None:
        raise SchemaViolation(type(self).__name__, [((name,), "Instance is frozen")])

    def __delattr__(self, name: str) -> None:
        raise SchemaViolation(type(self).__name__, [((name,), "Instance is frozen")])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *self.__dict__.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _dump(value: object) -> object:
    if isinstance(value, ConfigModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _schema(cls: type[ConfigModel]) -> _Schema:
    schema = cls.__dict__.get("_schema")
    if schema is not None:
        return schema
    schema = _Schema()
    for name, hint in typing.get_type_hints(cls).items():
        if name.startswith("_") or get_origin(hint) is ClassVar:
            continue
        spec = getattr(cls, name, _MISSING)
        if not isinstance(spec, FieldSpec):
            spec = FieldSpec(default=spec)
        schema.fields[name] = (_compile(hint, spec), spec)
    for hook in cls._hooks:
        if hook.mode == "model":
            schema.model.append(hook.func)
        for name in hook.fields:
            (schema.before if hook.mode == "before" else schema.after).setdefault(name, []).append(hook.func)
    cls._schema = schema
    return schema


def _validate_fields(cls: type[ConfigModel], data: dict[str, Any], loc: Loc) -> tuple[dict[str, Any], list]:
    """Every field in declaration order (each field's errors, then unknown keys), as pydantic reports them."""
    schema = _schema(cls)
    values: dict[str, Any] = {}
    problems: list[tuple[Loc, str]] = []
    for name, (check, spec) in schema.fields.items():
        where = (*loc, name)
        if name not in data:
            if spec.default_factory is not None:
                values[name] = spec.default_factory()
            elif spec.default is not _MISSING:
                values[name] = spec.default
            else:
                problems.append((where, "Field required"))
            continue
        value = data[name]
        try:
            for hook in schema.before.get(name, ()):
                value = hook(cls, value)
        except ValueError as e:
            problems.append((where, f"Value error, {e}"))
            continue
        value, errs = check(value, where)
        if not errs:
            try:
                for hook in schema.after.get(name, ()):
                    value = hook(cls, value)
            except ValueError as e:
                errs = [(where, f"Value error, {e}")]
        problems += errs
        values[name] = value
    problems += [((*loc, k), "Extra inputs are not permitted") for k in data if k not in schema.fields]
    return values, problems


def _run_model_hooks(instance: ConfigModel, loc: Loc) -> list[tuple[Loc, str]]:
    for hook in _schema(type(instance)).model:
        try:
            hook(instance)
        except ValueError as e:
            return [(loc, f"Value error, {e}")]
    return []


def _model_check(cls: type[ConfigModel]) -> Check:
    def check(value: object, loc: Loc) -> tuple[Any, list]:
        if isinstance(value, cls):
            return value, []
        if not isinstance(value, dict):
            return value, [(loc, f"Input should be a valid dictionary or instance of {cls.__name__}")]
        values, problems = _validate_fields(cls, value, loc)
        if problems:
            return value, problems
        instance = cls.__new__(cls)
        object.__setattr__(instance, "__dict__", values)
        problems = _run_model_hooks(instance, loc)
        return (value, problems) if problems else (instance, [])

    return check


def _compile(hint: object, spec: FieldSpec | None = None) -> Check:
    """A check for one annotation; `spec`'s bounds and pattern apply to the value (not to None)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        inner = _compile(members[0], spec) if len(members) == 1 else _union(members, spec)
        if len(members) == len(args):
            return inner
        return lambda v, loc: (None, []) if v is None else inner(v, loc)
    if origin is Literal:
        return _literal(args)
    if origin is list:
        return _list(_compile(args[0]))
    if origin is dict:
        return _dict(_compile(args[0]), _compile(args[1]))
    if isinstance(hint, type) and issubclass(hint, ConfigModel):
        return _model_check(hint)
    scalar = _SCALARS[hint]
    bounds = _bounds(spec) if spec is not None else None
    if bounds is None:
        return scalar

    def bounded(v: object, loc: Loc) -> tuple[Any, list]:
        v, errs = scalar(v, loc)
        return (v, errs) if errs else (v, bounds(v, loc))

    return bounded


def _bounds(spec: FieldSpec) -> Callable[[Any, Loc], list] | None:
    rules: list[tuple[Callable[[Any], bool], str]] = []
    if spec.gt is not None:
        rules.append((lambda v, b=spec.gt: v > b, f"Input should be greater than {spec.gt}"))
    if spec.ge is not None:
        rules.append((lambda v, b=spec.ge: v >= b, f"Input should be greater than or equal to {spec.ge}"))
    if spec.le is not None:
        rules.append((lambda v, b=spec.le: v <= b, f"Input should be less than or equal to {spec.le}"))
    if spec.pattern is not None:
        rx = re.compile(spec.pattern)
        rules.append((lambda v: rx.search(v) is not None, f"String should match pattern '{spec.pattern}'"))
    if not rules:
        return None

    def check(v: object, loc: Loc) -> list[tuple[Loc, str]]:
        return next(([(loc, msg)] for ok, msg in rules if not ok(v)), [])

    return check


def _tag(hint: object) -> str:
    """How pydantic names a union member in an error's location."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is not None:
        return f"{origin.__name__}[{','.join(_tag(a) for a in args)}]"
    return hint.__name__  # type: ignore[attr-defined]


def _union(members: list[Any], spec: FieldSpec | None) -> Check:
    checks = [(_tag(m), _compile(m, spec)) for m in members]

    def check(v: object, loc: Loc) -> tuple[Any, list]:
        problems: list[tuple[Loc, str]] = []
        for tag, member in checks:
            value, errs = member(v, (*loc, tag))
            if not errs:
                return value, []
            problems += errs
        return v, problems

    return check


def _literal(allowed: tuple[Any, ...]) -> Check:
    shown = [repr(a) for a in allowed]
    msg = "Input should be " + (f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0])

    def check(v: object, loc: Loc) -> tuple[Any, list]:
        for a in allowed:
            if v == a and type(v) is type(a):
                return a, []
        return v, [(loc, msg)]

    return check


def _list(item: Check) -> Check:
    def check(v: object, loc: Loc) -> tuple[Any, list]:
        if not isinstance(v, list | tuple):
            return v, [(loc, "Input should be a valid list")]
        out, problems = [], []
        for i, x in enumerate(v):
            x, errs = item(x, (*loc, i))
            out.append(x)
            problems += errs
        return out, problems

    return check


def _dict(key: Check, value: Check) -> Check:
    def check(v: object, loc: Loc) -> tuple[Any, list]:
        if not isinstance(v, dict):
            return v, [(loc, "Input should be a valid dictionary")]
        out, problems = {}, []
        for k, x in v.items():
            k2, kerrs = key(k, (*loc, k, "[key]"))
            x, errs = value(x, (*loc, k))
            out[k2] = x
            problems += kerrs + errs
        return out, problems

    return check


def _str(v: object, loc: Loc) -> tuple[Any, list]:
    return (v, []) if isinstance(v, str) else (v, [(loc, "Input should be a valid string")])


def _int(v: object, loc: Loc) -> tuple[Any, list]:
    if isinstance(v, int):
        return int(v), []
    if isinstance(v, float):
        if not math.isfinite(v):
            return v, [(loc, "Input should be a finite number")]
        if not v.is_integer():
            return v, [(loc, "Input should be a valid integer, got a number with a fractional part")]
        return int(v), []
    if isinstance(v, str) and (m := _INT_TEXT.fullmatch(v)):
        return int(m.group(1)), []
    if isinstance(v, str):
        return v, [(loc, "Input should be a valid integer, unable to parse string as an integer")]
    return v, [(loc, "Input should be a valid integer")]


def _float(v: object, loc: Loc) -> tuple[Any, list]:
    if isinstance(v, int | float):
        return float(v), []
    if isinstance(v, str):
        try:
            return float(v.strip()), []
        except ValueError:
            return v, [(loc, "Input should be a valid number, unable to parse string as a number")]
    return v, [(loc, "Input should be a valid number")]


def _bool(v: object, loc: Loc) -> tuple[Any, list]:
    if isinstance(v, bool):
        return v, []
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v), []
    if isinstance(v, str) and v.lower() in _TRUE | _FALSE:
        return v.lower() in _TRUE, []
    if isinstance(v, int | str) or (isinstance(v, float) and v.is_integer()):
        return v, [(loc, "Input should be a valid boolean, unable to interpret input")]
    return v, [(loc, "Input should be a valid boolean")]


_SCALARS: dict[Any, Check] = {str: _str, int: _int, float: _float, bool: _bool}
