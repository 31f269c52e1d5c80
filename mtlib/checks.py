"""Small argument checks shared by the public entry points (``load_dataset``, ``label_split``,
``build_model``, the models, ``toy.fit_panel``). User values are checked once, in
:class:`mtlib.config.RunConfig`; functions it feeds trust their arguments. Leaf module.
"""
import math


def is_int(value):
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value):
    """A number (see :func:`is_number`) that is neither NaN nor +/-infinity."""
    return is_number(value) and math.isfinite(value)


def check_int(name, value, low=None, high=None):
    """Raise ValueError naming ``name`` unless ``value`` is an int in [low, high]."""
    if not is_int(value):
        raise ValueError(f"{name}={value!r} must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name}={value!r} must be an integer {bounds}")


def check_number(name, value, low=None):
    """Raise ValueError naming ``name`` unless ``value`` is a number >= low."""
    if not is_number(value) or (low is not None and value < low):
        raise ValueError(f"{name}={value!r} must be a number" + (f" >= {low}" if low is not None else ""))


def check_choice(name, value, allowed):
    """Raise ValueError naming ``name`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is unknown; choose one of {', '.join(map(repr, allowed))}")


def check_positive(name, value):
    """Raise ValueError naming ``name`` unless ``value`` is a number > 0."""
    if not is_number(value) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a number > 0")
