"""Child processes that belong to their run: one process group per run, gone when the run ends.

The driver starts each harness with `start_new_session=True`, so the harness and any process
it starts share one process group of their own, apart from the driver's (a terminal's
Ctrl-C reaches only the driver, which then ends the run's group itself). Each child also asks
Linux for SIGKILL when its parent dies (PR_SET_PDEATHSIG), so nothing of a run outlives a driver
that was killed outright. With --jobs, several runs' groups live at once (their harnesses started
from the scheduler's threads); `end_all_groups` ends every group still running, for an interrupt.
"""
import ctypes
import os
import signal
import subprocess
import threading

PR_SET_PDEATHSIG = 1
try:  # resolved here, not in the forked child, where another thread may hold the loader's lock
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: the process group still ends it
    _PRCTL = None
_GROUPS, _GROUPS_LOCK = set(), threading.Lock()  # the leaders of the groups start() made, until end_group


def _die_with_parent(parent_pid):
    def prepare():
        if _PRCTL is None:
            return
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    return prepare


def start(command, *, new_group, **popen_args):
    """Popen(command) that dies with this process; in a process group of its own when new_group."""
    process = subprocess.Popen(command, start_new_session=new_group, preexec_fn=_die_with_parent(os.getpid()),
                               **popen_args)
    if new_group:
        with _GROUPS_LOCK:
            _GROUPS.add(process)
    return process


def end_group(process):
    """Kills the process group `process` leads (the run's harness and its children) and reaps the leader."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    with _GROUPS_LOCK:
        _GROUPS.discard(process)


def end_all_groups():
    """Kills every process group start() made that is still running (the threads waiting on them then return)."""
    with _GROUPS_LOCK:
        leaders = list(_GROUPS)
    for process in leaders:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def group_alive(pgid):
    """Whether any process of the group still exists (zombies aside)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
