"""Byte counts in the words the profiler prints and records ('1 GiB', '1.5 MiB')."""


def format_size(n):
    """Whole units where exact, one decimal otherwise: the ceiling reads '1 GiB', not '1.0 GiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n // scale} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} B"
