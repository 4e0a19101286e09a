"""The report's entry to reports/summary.json: the store's loading and validation, and the chart plan.

Loading, validation and migration live once, in graphmem.store (profile uses the same code). What the
report does with a summary lives beside this module: graphmem.report.selection (which runs are
compared, which charts can be drawn), graphmem.report.cells (how numbers read) and
graphmem.report.provenance (where each run was measured).
"""
from graphmem.report.selection import chart_plan  # noqa: F401 (re-exported: the profile's tests read the plan here)
from graphmem.store import (SCHEMA_PATH, SummaryError, load_summary, migrate, run_validator,  # noqa: F401
                            schema_validator, validate_summary)
