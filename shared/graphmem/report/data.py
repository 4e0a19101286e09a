"""reports/summary.json read and validated: `load_summary`, `validate_summary`, `migrate` and `SummaryError`.

What the report then does with a summary lives beside this module: graphmem.report.selection (which runs
are compared, which charts can be drawn), graphmem.report.cells (how numbers read) and
graphmem.report.provenance (where each run was measured).
"""
import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from graphmem.facts import ROOT
from graphmem.report.selection import chart_plan  # noqa: F401 (re-exported: the profile's tests read the plan here)

SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")


class SummaryError(ValueError):
    """The summary file is missing, unreadable, or does not match summary.schema.json."""


@lru_cache(maxsize=1)
def schema_validator():
    """The summary schema's validator, read once per process."""
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def run_validator():
    """A validator for one run record, against the summary schema's `$defs/run`."""
    schema = schema_validator().schema
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/run"})


def migrate(summary):
    """A schema 1 summary (one environment and command for all runs) as schema 2, in place; others unchanged.

    Schema 1 said where the newest runs were measured; each run gets that as its provenance, the best
    that file knows. Its failed runs become failed records with their one failure listed.
    """
    if not isinstance(summary, dict) or summary.get("schema_version") != 1:
        return summary
    environment = summary.pop("environment", None) or {}
    command = summary.pop("command", None) or "unknown"
    for run in (summary.get("runs") or {}).values():
        if isinstance(run, dict):
            run.setdefault("provenance", {"git_dirty": True, **environment, "command": command})
            if run.get("status") == "failed":
                run.setdefault("failures", [{"at": run.get("measured_at", "unknown"),
                                             "reason": run.get("reason") or "no reason recorded", "log": None}])
    summary["schema_version"] = 2
    return summary


def _display(path):
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def validate_summary(summary, source="summary"):
    """Raise SummaryError naming `source`, the failing location and the schema's complaint."""
    error = best_match(schema_validator().iter_errors(summary))
    if error is None:
        return summary
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    raise SummaryError(
        f"{source} does not match {_display(SCHEMA_PATH)} at {where}: {error.message}"
    )


def load_summary(path):
    """The parsed, schema-valid summary at `path`, or SummaryError saying what is wrong with it."""
    name = _display(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SummaryError(f"{name} does not exist; `python3 -m nox -s profile` writes it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SummaryError(f"{name} cannot be read: {exc}") from None
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SummaryError(
            f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    return validate_summary(migrate(summary), name)
