"""How a set of repeated measurements is summarised, the same way for profile and bench."""
import statistics


def quartiles(values):
    """Median, quartiles (inclusive method) and range of `values`; one value is its own quartiles."""
    values = sorted(values)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return {"median": statistics.median(values), "q1": q1, "q3": q3, "min": values[0], "max": values[-1]}


# The one convention both reports use. Spread: the minimum and maximum of the repetitions, written
# "median [min–max]" and named so in every table header. A real difference: the two sets of
# repetitions' ranges do not overlap (for 5 against 5 draws of one distribution that happens by
# chance 2 times in 252); where they overlap, the difference is "within noise".
SPREAD_NAME = "median [min–max]"


def compare(first, second):
    """'lower' or 'higher' (first against second) where the min–max ranges do not overlap,
    'within noise' where they do, None where either is missing. `first`, `second`: dicts with
    min and max (as quartiles() gives), or lists of values."""
    if not first or not second:
        return None
    first, second = (quartiles(s) if isinstance(s, (list, tuple)) else s for s in (first, second))
    if first["max"] < second["min"]:
        return "lower"
    if first["min"] > second["max"]:
        return "higher"
    return "within noise"
