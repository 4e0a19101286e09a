"""Writing for the generated reports: the one Markdown table writer and the one duration formatter.

Both reports (COMPARISON.md and BENCH.md) and the profile's progress lines use these, so a figure
is spelled the same wherever it appears.
"""


def md_table(headers, rows, right=()):
    """A GitHub table with every column padded to its widest cell; columns in `right` align right."""
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in [headers, *rows]]
    widths = [max(3, *(len(row[index]) for row in cells)) for index in range(len(headers))]

    def line(row):
        return "| " + " | ".join(
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        ) + " |"

    rule = "| " + " | ".join(
        "-" * (width - 1) + ":" if index in right else "-" * width for index, width in enumerate(widths)
    ) + " |"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def format_duration(seconds, missing="–"):
    """A time for a reader: 12 µs, 3.4 ms, 1.25 s, 12.0 s, 3m07s; `missing` for None."""
    if seconds is None:
        return missing
    if seconds == 0:
        return "0 ms"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    return f"{whole // 60}m{whole % 60:02d}s"
