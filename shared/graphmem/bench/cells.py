"""How BENCH.md writes one figure: a time, a spread, a ratio, a target's status, a table.

Times go through graphmem.markdown.format_duration and tables through graphmem.markdown.md_table,
the project's one formatter and one table writer; a spread is always the convention of
graphmem.spread, SPREAD_NAME ("median [min–max]"), which every table header that shows one names.
"""
from graphmem.markdown import format_duration, md_table
from graphmem.spread import SPREAD_NAME


def time(ns):
    """A duration given in ns, as the reports write durations."""
    return format_duration(None if ns is None else ns / 1e9)


def signed_time(ns):
    return ("−" + time(-ns)) if ns < 0 else ("+" + time(ns))


def spread(stats):
    """A time's median [min–max], from a dict with median, min and max in ns."""
    return f"{time(stats['median'])} [{time(stats['min'])}–{time(stats['max'])}]"


def ratio_spread(stats, digits=3):
    """A ratio's median [min–max], from a dict with median, min and max."""
    return value(stats["median"], (stats["min"], stats["max"]), digits)


def named(header):
    """A column header that says its cells are median [min–max]."""
    return f"{header}, {SPREAD_NAME}"


def times(ratio):
    return "–" if ratio is None else f"{ratio:.2f}×"


def value(number, bounds, digits=3):
    """A number and, when given, its (min, max) as [min–max]."""
    if number is None:
        return "–"
    text = f"{number:.{digits}f}"
    return text + (f" [{bounds[0]:.{digits}f}–{bounds[1]:.{digits}f}]" if bounds else "")


def one_line(cell):
    """A table cell on one line, whatever text (an error message, say) it holds."""
    return " ".join(str(cell).split())


def table(header, rows):
    """md_table of the rows, each cell on one line."""
    return md_table(header, [[one_line(cell) for cell in row] for row in rows])
