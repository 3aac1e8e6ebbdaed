"""ROS parameters from a config dataclass: one declared parameter per field (``section.field`` for a
nested dataclass), with descriptions and ranges, read back into the dataclass with its checks."""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from m2h_ros.config import from_dict, to_dict


def descriptor(text: str, lo=None, hi=None, read_only: bool = True) -> ParameterDescriptor:
    d = ParameterDescriptor(description=text, read_only=read_only)
    if isinstance(lo, float) or isinstance(hi, float):
        d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi))]
    elif lo is not None:
        d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
    return d


def declare_config(node: Node, cls, parameters: dict[str, tuple], dynamic: tuple[str, ...] = ()):
    """Declare ``parameters`` (name -> (description, low, high)) with the defaults of ``cls`` and return
    ``cls`` filled from their values. Names in ``dynamic`` may change at run time; the rest are read-only.
    An optional parameter (default None) is declared with an empty string."""
    defaults = to_dict(cls())
    flat = {}
    for key, value in defaults.items():
        if isinstance(value, dict) and any(name.startswith(f"{key}.") for name in parameters):
            flat |= {f"{key}.{k}": v for k, v in value.items()}
        else:
            flat[key] = value
    values = {}
    for name, (text, lo, hi) in parameters.items():
        default = flat[name]
        d = descriptor(text, lo, hi, name not in dynamic)
        if default is None:  # optional: "" for unset, or a value of the field's type
            default, d.dynamic_typing = "", True
        default = list(default) if isinstance(default, list | tuple) else default
        value = node.declare_parameter(name, default, d).value
        values[name] = None if value == "" and flat[name] is None else value
    nested: dict = {}
    for name, value in values.items():
        section, _, key = name.rpartition(".")
        (nested.setdefault(section, {}) if section else nested)[key] = value
    return from_dict(cls, nested, source=f"{node.get_name()} parameters")
