"""Profiling: the driver (one process per run, the summary) and the harness (one run under memray)."""
