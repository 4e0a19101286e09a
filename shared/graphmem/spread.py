"""How a set of repeated measurements is summarised, the same way for profile and bench."""
import statistics


def quartiles(values):
    """Median, quartiles (inclusive method) and range of `values`; one value is its own quartiles."""
    values = sorted(values)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return {"median": statistics.median(values), "q1": q1, "q3": q3, "min": values[0], "max": values[-1]}
