"""Section 6's cost of the last profile, from a hand-made summary: totals by interpreter and implementation,
the floor of timing plus memory shared among the jobs, and nothing where the data does not say it."""
from graphmem.report.profile_cost import section_profile_cost

LAST = {"command": "python3 -m nox -s profile", "started": "2026-12-01T10:00:00+00:00",
        "finished": "2026-12-01T10:20:00+00:00", "jobs": 2, "shard": None, "runs": 3, "wall_seconds": 100.0,
        "setup_seconds": 30.0, "seconds_per_run": 33.333, "runs_per_minute": 1.8, "parallel_share": 0.25}


def record(label, phases, implementation=None, when="2026-12-01T10:05:00+00:00"):
    return {"interpreter": {"label": label}, "measured_at": when, "status": "ok",
            **({"implementation": implementation} if implementation else {}),
            "phase_seconds": dict(zip(("memory", "timing", "timing_processes"), phases))}


def summary(**changes):
    return {"runs": {"a": record("cpython-3.11", (2.0, 10.0, 5)), "b": record("cpython-3.11", (4.0, 0.0, 0)),
                     "old": record("cpython-3.11", (50.0, 0.0, 0), when="2026-11-30T09:00:00+00:00")},
            "peer_runs": {"c": record("cpython-3.11", (6.0, 20.0, 5), "jax")}, "last_profile": LAST, **changes}


def test_the_cost_table_sums_each_group_and_sets_the_floor_beside_the_wall_time():
    text = "\n".join(section_profile_cost(summary()))
    assert "measured 3 runs in 1m40s with `--jobs 2`, after 30.0 s preparing" in text
    assert "1.8 runs per minute, two or more runs' processes at once 25% of the time." in text
    rows = [line for line in text.splitlines() if line.startswith("| cpython") or line.startswith("| all")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    # By hand: ours a+b (the record from the day before is not the last profile's), jax c.
    assert cells == [["cpython-3.11", "our variants", "2", "6.00 s", "5", "10.0 s"],
                     ["cpython-3.11", "jax", "1", "6.00 s", "5", "20.0 s"],
                     ["all", "", "3", "12.0 s", "10", "30.0 s"]]
    assert "30.0 s of timing processes plus 12.0 s of memory processes shared among 2 jobs, 36.0 s; they took 1m40s." in text
    assert "beside at most 1 other;" in text


def test_no_floor_when_some_runs_lack_their_seconds_and_nothing_without_a_last_profile():
    partial = summary(peer_runs={})
    text = "\n".join(section_profile_cost(partial))
    assert "(2 of its 3 runs have them)" in text and "could not take less" not in text
    assert section_profile_cost(summary(last_profile=None)) == []
    one_job = "\n".join(section_profile_cost(summary(last_profile={**LAST, "jobs": 1})))
    assert "With `--jobs 1` every process ran alone: 42.0 s of processes, in 1m40s." in one_job
