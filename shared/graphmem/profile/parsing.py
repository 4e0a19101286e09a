"""Reading the profile's command line values: sizes, name lists, workload parameters, interpreters.

Every problem is a SelectionError whose message names the option and the value; the driver prints it
as one `profile: error: ...` line and exits 2 before anything is measured.
"""
import math
import os
import re
UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
         "kib": 2**10, "mib": 2**20, "gib": 2**30}


class SelectionError(ValueError):
    """A bad selection, or an environment that cannot run it: stops the profile before any run."""


# --- parsing -------------------------------------------------------------------------
def parse_size(text):
    """'8MiB', '512 MiB', '1GiB', '1000000' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in UNITS:
        raise SelectionError(f"{text!r} is not a size; write e.g. 8MiB, 512MiB, 1GiB or a number of bytes "
                             f"(units: {', '.join(u for u in UNITS if u)}, case-insensitive)")
    value = float(match.group(1)) * UNITS[match.group(2).lower()]
    if value < 1 or value != int(value):
        raise SelectionError(f"{text!r} is not a positive whole number of bytes")
    return int(value)


def split_names(values):
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def choose(kind, given, valid):
    """The names given (comma-separated or repeated), each checked against the valid ones."""
    names = split_names(given)
    if not names:
        return list(valid)
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise SelectionError(f"unknown {kind} {', '.join(map(repr, unknown))}; valid {kind}s: {', '.join(valid)}")
    return list(dict.fromkeys(names))


def parse_params(text):
    """'size=1000,iterations=3' -> {'size': 1000, 'iterations': 3}."""
    params = {}
    for item in split_names(text):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SelectionError(f"--params takes name=value pairs, got {item!r}")
        try:
            params[name.strip()] = int(value) if re.fullmatch(r"\s*-?\d+\s*", value) else float(value)
        except ValueError:
            raise SelectionError(f"--params: {name.strip()}={value!r} is not a number") from None
    return params


def parse_interpreters(values, names):
    """--interpreter NAME=PATH values -> {name: path}; the path must be an executable file."""
    interpreters = {}
    for value in values or []:
        variant, sep, path = value.partition("=")
        if not sep or variant not in names:
            raise SelectionError(f"--interpreter takes VARIANT=PATH with VARIANT one of {', '.join(names)}, "
                                 f"got {value!r}")
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SelectionError(f"--interpreter {value}: {path!r} is not an executable file")
        interpreters[variant] = path
    return interpreters


def positive_number(option, text, whole=False, minimum=None):
    """A finite number above zero (or at least `minimum`) from an option's text, else SelectionError naming both."""
    try:
        value = int(text) if whole else float(text)
    except (TypeError, ValueError):
        value = None
    low_ok = value is not None and (value >= minimum if minimum is not None else value > 0)
    if value is None or not math.isfinite(value) or not low_ok:
        wanted = (f"a whole number of at least {minimum}" if whole else f"a number of at least {minimum}") \
            if minimum is not None else ("a positive whole number" if whole else "a positive, finite number")
        raise SelectionError(f"{option} {text!r}: expected {wanted}")
    return value
