"""Grad mode is per thread and per asyncio task (snippet D of issue 10), as in PyTorch."""
import asyncio
import queue
import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dezero import Config, Variable, no_grad, using_config

TIMEOUT = 10  # seconds a worker thread may take for one step before the test fails


def records_a_graph():
    return (Variable(np.array(2.0)) * 2).creator is not None


def test_snippet_d_no_grad_held_open_in_one_thread_leaves_another_recording():
    entered, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with no_grad():
            entered.set()
            release.wait(TIMEOUT)

    holder = threading.Thread(target=hold_no_grad)
    holder.start()
    try:
        assert entered.wait(TIMEOUT)
        x = Variable(np.array(3.0))
        y = x * 2
        assert y.creator is not None and Config.enable_backprop is True
    finally:
        release.set()
        holder.join(TIMEOUT)


class Worker:
    """A thread that runs the steps it is told to, one at a time, and reports what it saw."""

    def __init__(self):
        self.commands, self.results = queue.Queue(), queue.Queue()
        self.contexts = []  # open no_grad() context managers, innermost last
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        for command in iter(self.commands.get, None):
            try:
                if command == "enter":
                    self.contexts.append(no_grad())
                    self.contexts[-1].__enter__()
                else:
                    self.contexts.pop().__exit__(None, None, None)
                self.results.put((Config.enable_backprop, records_a_graph()))
            except BaseException as error:  # reported to the test, which fails with it
                self.results.put(error)

    def step(self, command):
        self.commands.put(command)
        return self.results.get(timeout=TIMEOUT)

    def stop(self):
        self.commands.put(None)
        self.thread.join(TIMEOUT)


@st.composite
def schedules(draw, threads=3):
    """An interleaving of balanced enter/exit sequences, one per thread: [(thread, command), ...]."""
    per_thread = []
    for thread in range(threads):
        depth, commands = 0, []
        for _ in range(draw(st.integers(0, 6))):
            command = draw(st.sampled_from(["enter", "exit"])) if depth else "enter"
            depth += 1 if command == "enter" else -1
            commands.append(command)
        per_thread.append(commands + ["exit"] * depth)
    cursors, order = [0] * threads, []
    while any(cursor < len(commands) for cursor, commands in zip(cursors, per_thread)):
        ready = [t for t in range(threads) if cursors[t] < len(per_thread[t])]
        thread = draw(st.sampled_from(ready))
        order.append((thread, per_thread[thread][cursors[thread]]))
        cursors[thread] += 1
    return order


@settings(max_examples=150, deadline=None)
@given(schedule=schedules())
def test_many_interleavings_of_no_grad_across_threads_each_see_their_own_mode(schedule):
    workers = [Worker() for _ in range(3)]
    try:
        depths = [0, 0, 0]
        for thread, command in schedule:
            depths[thread] += 1 if command == "enter" else -1
            seen = workers[thread].step(command)
            if isinstance(seen, BaseException):
                raise seen
            expected = depths[thread] == 0
            assert seen == (expected, expected), (thread, command, depths)
            assert Config.enable_backprop is True and records_a_graph()  # the main thread is untouched
    finally:
        for worker in workers:
            worker.stop()


def test_a_new_thread_starts_with_grad_mode_on_whatever_its_parent_set():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append((Config.enable_backprop, records_a_graph())))
        thread.start()
        thread.join(TIMEOUT)
    assert seen == [(True, True)]


def test_writing_config_directly_is_per_thread_too():
    seen = []

    def switch_off_here():
        Config.enable_backprop = False
        seen.append(records_a_graph())

    thread = threading.Thread(target=switch_off_here)
    thread.start()
    thread.join(TIMEOUT)
    assert seen == [False] and Config.enable_backprop is True and records_a_graph()


def test_nested_using_config_restores_each_level():
    with using_config("enable_backprop", False):
        with using_config("enable_backprop", True):
            assert records_a_graph()
        assert not records_a_graph()
        with no_grad():
            assert not records_a_graph()
        assert not records_a_graph()
    assert records_a_graph()


def test_asyncio_tasks_each_have_their_own_grad_mode():
    async def main():
        inside, done = asyncio.Event(), asyncio.Event()
        seen = {}

        async def without_grad():
            with no_grad():
                inside.set()
                await done.wait()  # the other task runs while this one is inside no_grad
                seen["without_grad"] = records_a_graph()

        async def with_grad():
            await inside.wait()
            seen["with_grad"] = (Config.enable_backprop, records_a_graph())
            done.set()

        await asyncio.gather(without_grad(), with_grad())
        seen["after"] = records_a_graph()
        return seen

    assert asyncio.run(main()) == {"without_grad": False, "with_grad": (True, True), "after": True}
