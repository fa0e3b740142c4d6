"""One loader for every typed config: plain data (YAML, JSON, ``--set``) -> a frozen dataclass.

The configs of the cores are frozen dataclasses with type hints. :func:`config_from_mapping` builds
one from a mapping and checks every value against its field's hint *before* the dataclass's own
range checks run, so a wrong type is an error that names the key and the type it wants
(``config.yaml: workers: expected int, got 'abc' (str)``) instead of a traceback later (``workers=2.5``
used to crash a process pool). Everything that reads a config goes through here: training configs
(``PDDMTrainConfig``), world configs, robot control configs and retargeting configs, checkpoints'
stored configs, and ``--set KEY=VALUE`` overrides (:func:`parse_override`, :func:`with_overrides`).

Supported hints: ``bool``, ``int`` (not bool, not 2.5), ``float`` (int accepted, NaN refused,
inf allowed: some limits use it for "off"), ``str``, ``tuple[T, ...]``/``tuple[A, B]``/``list[T]`` (a list or tuple), ``dict[str, T]``,
``X | None``, unions, nested dataclasses (a mapping), ``Any``. Other hints pass values through.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT")


_YAML11_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{text[:80]}{'...' if len(text) > 80 else ''} ({type(value).__name__})"


def check_value(value: Any, hint: Any, where: str) -> Any:
    """``value`` converted to ``hint`` (int -> float, list -> tuple, mapping -> dataclass), else a
    ValueError ``"<where>: expected <type>, got <value> (<its type>)"``."""
    if hint is Any or hint is object:
        return value
    if isinstance(hint, str):  # an unresolved forward reference: leave it to the dataclass
        return value
    origin = typing.get_origin(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return _check_union(value, typing.get_args(hint), hint, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a mapping of {hint.__name__} fields, got {_describe(value)}")
        return config_from_mapping(hint, value, where)
    if origin in (tuple, list) or hint in (tuple, list):
        return _check_sequence(value, hint, origin or hint, where)
    if origin in (dict, Mapping) or hint in (dict, Mapping) or origin is typing.get_origin(Mapping[str, int]):
        return _check_mapping(value, hint, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected bool (true/false), got {_describe(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected int, got {_describe(value)}")
    if hint is float:
        if isinstance(value, str) and _YAML11_EXPONENT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 (PyYAML) reads "1e-4" as a string; YAML 1.2 and users mean a float
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value):  # inf is a legitimate "no limit"; NaN never is
                raise ValueError(f"{where}: expected float, got NaN")
            return float(value)
        raise ValueError(f"{where}: expected float, got {_describe(value)}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{where}: expected str, got {_describe(value)}")
    if hint is type(None):
        if value is None:
            return None
        raise ValueError(f"{where}: expected null, got {_describe(value)}")
    return value  # numpy arrays, enums, ...: the dataclass checks them


def _check_union(value: Any, options: tuple[Any, ...], hint: Any, where: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return check_value(value, option, where)
        except ValueError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    names = " or ".join(_type_name(o) for o in options)
    raise ValueError(f"{where}: expected {names}, got {_describe(value)}")


def _check_sequence(value: Any, hint: Any, container: type, where: str) -> Any:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: expected a list ({_type_name(hint)}), got {_describe(value)}")
    args = typing.get_args(hint)
    if not args:
        items = list(value)
    elif container is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise ValueError(f"{where}: expected {len(args)} values ({_type_name(hint)}), got {len(value)}")
        items = [check_value(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
    else:
        items = [check_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if container is tuple else items


def _check_mapping(value: Any, hint: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping ({_type_name(hint)}), got {_describe(value)}")
    args = typing.get_args(hint)
    if not args:
        return dict(value)
    key_t, val_t = args
    return {check_value(k, key_t, f"{where} key"): check_value(v, val_t, f"{where}.{k}") for k, v in value.items()}


def config_from_mapping(cls: type[ConfigT], data: Mapping[str, Any], source: str = "<mapping>",
                        ignore_private: bool = False) -> ConfigT:
    """Build the frozen config dataclass ``cls`` from a plain mapping, type-checking every value.

    Unknown keys, values of the wrong type and the dataclass's own range errors raise ``ValueError``
    naming ``source`` and the key. Missing keys take the field defaults. ``ignore_private`` skips keys
    starting with ``_`` (informational sections written into run directories).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    keys = [k for k in data if not (ignore_private and isinstance(k, str) and k.startswith("_"))]
    unknown = sorted(str(k) for k in keys if k not in fields)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown} for {cls.__name__}; valid keys: {sorted(fields)}")
    kwargs = {key: check_value(data[key], hints.get(key, Any), f"{source}: {key}") for key in keys}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from exc


def load_yaml_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The top-level mapping of a YAML file (``yaml.safe_load``); empty file -> ``{}``.

    ValueError naming the file when it cannot be read, is not YAML or is not a mapping.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level of the {what}, got {type(data).__name__}")
    return dict(data)


def load_yaml_config(cls: type[ConfigT], path: str | Path, ignore_private: bool = False) -> ConfigT:
    """Read a YAML file holding one mapping of ``cls``'s fields (see :func:`config_from_mapping`)."""
    return config_from_mapping(cls, load_yaml_mapping(path), str(path), ignore_private)


def parse_override(item: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, value)`` with VALUE parsed as YAML (``2`` int, ``2.5`` float, ``[1, 2]``, ``abc`` str)."""
    import yaml

    if "=" not in item:
        raise ValueError(f"--set {item!r}: expected KEY=VALUE")
    key, text = (part.strip() for part in item.split("=", 1))
    if not key:
        raise ValueError(f"--set {item!r}: empty KEY")
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValueError(f"--set {item!r}: VALUE is not valid YAML") from None


def with_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the nested mapping ``data`` with dotted keys (``planner.beta``) set from ``overrides``."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    for key, value in overrides.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ValueError(f"override {key!r}: {part!r} is not a group of settings")
            node = child
        node[parts[-1]] = value
    return out


__all__ = ["check_value", "config_from_mapping", "load_yaml_config", "load_yaml_mapping", "parse_override",
           "with_overrides"]
