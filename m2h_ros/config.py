"""Typed configuration: dataclasses filled from YAML, with errors that name the key and the file.

Each concern (model, predictor, perception node, scene graph, training) has one dataclass whose
defaults are the documented defaults. ``load(Cls, path)`` reads a YAML file; ``from_dict`` does the
same for a mapping. Files may be plain YAML or ROS 2 parameter files: with ``node=...`` the
``<node>: ros__parameters:`` section is read (the key may carry a namespace or the ``/**/`` wildcard
that lets the file apply in any namespace), so launch files and ``m2h run`` share one file.

Supported field types: bool, int, float, str, Path, Literal[...], Optional[...], tuple[...],
list[...], dict[str, ...] and nested dataclasses. Range and consistency checks live in each
dataclass's ``__post_init__``; a ``ValueError`` raised there is reported with the file and key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from m2h_ros.errors import ConfigError

T = TypeVar("T")


def load(cls: type[T], path: str | Path, node: str | None = None) -> T:
    """Read ``cls`` from the YAML file ``path`` (the ``node``'s ``ros__parameters`` if given)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read configuration file ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if node is not None:
        keys = [k for k in data if str(k).rsplit("/", 1)[-1] == node] if isinstance(data, dict) else []
        section = data[keys[0]] if keys else {} if isinstance(data, dict) else None
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters", {}), dict):
            raise ConfigError(f"{path}: expected '{node}: ros__parameters:' mapping")
        data = section.get("ros__parameters", {})
    return from_dict(cls, data, source=str(path))


def from_dict(cls: type[T], data: Any, source: str = "<config>", prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys and ill-typed values raise ConfigError."""
    where = f"{source}: {prefix or 'top level'}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(
            f"{source}: unknown key '{key}' (known keys{' of ' + prefix if prefix else ''}: {', '.join(fields)})"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(hints[name], value, source, key)
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def to_dict(obj: Any) -> Any:
    """The plain-YAML form of a config dataclass (Paths as strings, tuples as lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def default_config(name: str) -> Path:
    """A file of the package's config/ folder: the source tree's, else the installed share directory."""
    here = Path(__file__).resolve().parents[1] / "config" / name
    if here.is_file():
        return here
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("m2h_ros")) / "config" / name


def check(ok: bool, key: str, message: str) -> None:
    """For ``__post_init__``: raise ConfigError naming ``key`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"'{key}' {message}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, source: str, key: str) -> Any:
    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(f"{source}: '{key}' must be {expected}, got {value!r} ({type(value).__name__})")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if (value is None or value == "") and type(None) in args:  # "": unset, as in ROS parameter files
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, source, key)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        fail(" or ".join(_type_name(o) for o in options))
    if origin is Literal:
        if value not in args:
            fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source, key)
    if tp is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    if tp is Path:
        if not isinstance(value, str):
            fail("a path string")
        return Path(value).expanduser()
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            fail("a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                fail(f"a list of {len(args)} items")
            return tuple(_convert(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            fail("a mapping")
        kt, vt = args or (Any, Any)
        return {_convert(kt, k, source, f"{key}.{k}"): _convert(vt, v, source, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"config field '{key}' has unsupported type {tp!r}")
