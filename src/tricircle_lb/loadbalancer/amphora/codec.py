""":class:`LoadBalancerConfig` ⇄ JSON, strict both ways.

The controller sends the desired state to the amphora agent as JSON; the agent
must refuse anything it does not understand rather than guess, so decoding
rejects unknown keys, missing required keys, wrong types (``true`` is not an
integer, ``1`` is not a string) and values outside a ``Literal``. Values are
only type-checked here; :func:`haproxy_config.render` validates their content.

The mapping follows the dataclasses of :mod:`model` field by field: tuples are
JSON arrays, ``Mapping`` fields are objects, ``None`` is ``null``; a key left
out takes the field's default.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from tricircle_lb.loadbalancer.amphora import model
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig

MAX_BYTES = 4 * 1024 * 1024


class CodecError(ValueError):
    """The JSON does not describe a :class:`LoadBalancerConfig`; the message says where."""


def to_dict(config: LoadBalancerConfig) -> dict[str, Any]:
    value = _encode(config)
    assert isinstance(value, dict)
    return value


def to_json(config: LoadBalancerConfig) -> bytes:
    return json.dumps(to_dict(config), separators=(",", ":"), sort_keys=True).encode()


def from_dict(obj: Any) -> LoadBalancerConfig:
    value = _decode(LoadBalancerConfig, obj, "config")
    assert isinstance(value, LoadBalancerConfig)
    return value


def from_json(data: bytes | str) -> LoadBalancerConfig:
    if len(data) > MAX_BYTES:
        raise CodecError(f"config: larger than {MAX_BYTES} bytes")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"config: not JSON: {exc}") from None
    return from_dict(obj)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(model))


def _decode(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None) or tp is None:
        if value is not None:
            raise CodecError(f"{where}: must be null")
        return None
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _decode(option, value, where)
            except CodecError as exc:
                errors.append(str(exc))
        raise CodecError(errors[0] if len(errors) == 1 else f"{where}: wrong type")
    if origin is typing.Literal:
        if not isinstance(value, str) or value not in args:
            raise CodecError(f"{where}: must be one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise CodecError(f"{where}: must be an array")
        return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, dict):
            raise CodecError(f"{where}: must be an object")
        return {k: _decode(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _decode_dataclass(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise CodecError(f"{where}: must be a boolean")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CodecError(f"{where}: must be an integer")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise CodecError(f"{where}: must be a string")
        return value
    raise CodecError(f"{where}: unsupported type {tp!r}")


def _decode_dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise CodecError(f"{where}: must be an object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise CodecError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = _decode(hints[name], value[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CodecError(f"{where}.{name}: required")
    return cls(**kwargs)


__all__ = ["CodecError", "from_dict", "from_json", "to_dict", "to_json"]
