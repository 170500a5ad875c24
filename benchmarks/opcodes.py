"""Bytecodes the recording adds to a save, counted: a figure without noise.

    ./bin/bench --opcodes              # a few seconds; prints Markdown tables
    ./bin/bench --opcodes --lines      # also each line of the package's code
    ./bin/bench --opcodes --against REV   # REV's package beside the work tree's

Timings of the save workload move by about 1 µs per save from run to run on
this machine, more than many changes to the hot path are worth. The number
of bytecode instructions Python runs does not move: this counts them (up to
Python 3.11 with ``sys.settrace`` asking for every opcode, from 3.12 with
``sys.monitoring``'s instruction events), over saves of ``bench.py``'s save
workload (a small model, a pre_save and a post_save receiver, SQLite in
memory), without recording and under a few recording configurations. Time
follows the count only roughly (an instruction that calls into C, or
allocates, costs more than one that reads a local), but on this path it
follows it: about 22 ns per bytecode in a save's context here.

Each recording configuration is measured after ``WARM_UP`` recorded saves,
so "past the caps" counts the path every save takes once the per-sender cap
of stored events is reached, and "every dispatch stored" the path of a
stored event. The default configuration's figure is the average over a
recording of ``SAVES_PER_RECORDING`` saves, as the timed benchmark makes them.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

PACKAGE = os.sep + "signals_panel" + os.sep
DISPATCHER = os.path.join("django", "dispatch", "dispatcher.py")
WARM_UP = 200
SAVES_PER_RECORDING = 1000
OTHER_THREAD = "not recording, while another thread records"
# Recording configurations, measured after WARM_UP saves each. Past the caps
# the send site is never looked up, with or without CAPTURE_SEND_SITE.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "recording past the caps (the counting path)": {
        "MAX_EVENTS_PER_SENDER": 1,
        "CAPTURE_SEND_SITE": False,
    },
    "every dispatch stored, no send site": {
        "MAX_EVENTS": 10**7,
        "MAX_EVENTS_PER_SENDER": 10**7,
        "CAPTURE_SEND_SITE": False,
    },
    "every dispatch stored, send site (default)": {
        "MAX_EVENTS": 10**7,
        "MAX_EVENTS_PER_SENDER": 10**7,
    },
}
DEFAULT = "recording, default settings (a whole recording)"

Key = tuple[str, str, int]


class Counted(NamedTuple):
    counts: collections.Counter[Key]
    saves: int

    def per_save(self) -> float:
        return sum(self.counts.values()) / self.saves


def _where(frame: types.FrameType) -> str:
    """The file of the package or of Django's dispatcher a frame runs code
    of; "" for any other code."""
    path = frame.f_code.co_filename
    if PACKAGE in path:
        return "signals_panel/" + path.rsplit(PACKAGE, 1)[1]
    if path.endswith(DISPATCHER):
        return "django/dispatch/dispatcher.py"
    module = frame.f_globals.get("__name__")
    if path.startswith("<") and str(module).startswith("signals_panel."):
        # Made by exec(), as dataclasses make their __init__.
        return f"signals_panel/{module.split('.', 1)[1]}.py"
    return ""


class _Tally:
    """Counts instructions into (file, function, line) keys."""

    def __init__(self) -> None:
        self.counts: collections.Counter[Key] = collections.Counter()
        # By identity: code objects that compare equal can be two functions'
        # (equality leaves out the file). Each code object is kept, so its id
        # stays its own while counting.
        self.places: dict[int, tuple[types.CodeType, str]] = {}
        self.lines: dict[int, dict[int, int]] = {}

    def add(self, frame: types.FrameType, offset: int | None = None) -> None:
        code = frame.f_code
        place = self.places.get(id(code))
        if place is None:
            place = self.places[id(code)] = (code, _where(frame))
        where = place[1]
        if not where:
            self.counts["", "", 0] += 1
        elif offset is None:
            self.counts[where, code.co_name, frame.f_lineno or 0] += 1
        else:
            self.counts[where, code.co_name, self._line(code, offset)] += 1

    def _line(self, code: types.CodeType, offset: int) -> int:
        lines = self.lines.get(id(code))
        if lines is None:
            lines = self.lines[id(code)] = {
                each: line or 0
                for start, end, line in code.co_lines()
                for each in range(start, end, 2)
            }
        return lines.get(offset, 0)


def count(op: Callable[[], Any], times: int) -> collections.Counter[Key]:
    """Bytecodes run by ``times`` calls of ``op``: (file, function, line) ->
    count, for the package's and the dispatcher's code; ("", "", 0) for all
    other code together."""
    tally = _Tally()
    # A collection in the middle would run whatever finalizers and weak
    # reference callbacks are due then: none of the work counted here.
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        if sys.version_info >= (3, 12):
            _monitored(op, times, tally)
        else:
            _traced(op, times, tally)
    finally:
        if collecting:
            gc.enable()
    return tally.counts


def _traced(op: Callable[[], Any], times: int, tally: _Tally) -> None:
    """Up to Python 3.11: sys.settrace's opcode events."""

    def tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            tally.add(frame)
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        for _ in range(times):
            op()
    finally:
        sys.settrace(previous)


def _monitored(op: Callable[[], Any], times: int, tally: _Tally) -> None:
    """From Python 3.12: sys.monitoring's INSTRUCTION events (settrace's
    opcode events miss a code object's first run there, or all of them)."""
    monitoring: Any = getattr(sys, "monitoring")  # noqa: B009 (3.12+)
    instruction = monitoring.events.INSTRUCTION

    def on_instruction(code: types.CodeType, offset: int) -> None:
        tally.add(sys._getframe(1), offset)  # the frame running ``code``

    tool = next(each for each in range(6) if monitoring.get_tool(each) is None)
    monitoring.use_tool_id(tool, "signals_panel bytecode count")
    try:
        monitoring.register_callback(tool, instruction, on_instruction)
        monitoring.set_events(tool, instruction)
        for _ in range(times):
            op()
    finally:
        monitoring.set_events(tool, 0)
        monitoring.register_callback(tool, instruction, None)
        monitoring.free_tool_id(tool)


def per_function(counts: collections.Counter[Key]) -> collections.Counter[str]:
    functions: collections.Counter[str] = collections.Counter()
    for (where, name, _), number in counts.items():
        functions[f"{where}: {name}" if where else "everything else"] += number
    return functions


def measure(saves: int, warm_up: int, per_recording: int) -> dict[str, Counted]:
    """Bytecodes run by saves: plain, then under each configuration."""
    import signals_panel
    from benchmarks.bench import another_thread_records, save_workload

    with save_workload() as save:
        for _ in range(warm_up):
            save()
        results = {"plain Django": Counted(count(save, saves), saves)}
        with another_thread_records():
            results[OTHER_THREAD] = Counted(count(save, saves), saves)
        for name, config in CONFIGURATIONS.items():
            with signals_panel.record(config):
                for _ in range(warm_up):
                    save()
                results[name] = Counted(count(save, saves), saves)
        # The default settings over a whole recording, as bench.py times them.
        with signals_panel.record():
            results[DEFAULT] = Counted(count(save, per_recording), per_recording)
    return results


def report(results: dict[str, Counted], warm_up: int, lines: bool) -> Iterator[str]:
    plain = results["plain Django"]
    base = plain.per_save()
    yield "#### Bytecodes per save, counted"
    yield ""
    yield (
        f"The save workload: {plain.saves} saves a configuration, after "
        f"{warm_up} of warm-up; the default settings averaged over a whole "
        f"recording of {results[DEFAULT].saves} saves. Deterministic: the "
        f"same code gives the same counts."
    )
    yield ""
    yield "| configuration | bytecodes per save | extra | ratio |"
    yield "| --- | ---: | ---: | ---: |"
    yield f"| plain Django | {base:,.0f} | | 1.000x |"
    for name, counted in results.items():
        if counted is not plain:
            total = counted.per_save()
            yield (
                f"| {name} | {total:,.0f} | {total - base:+,.0f} | {total / base:.3f}x |"
            )
    yield ""
    for name, counted in results.items():
        if counted is not plain:
            yield from _breakdown(name, plain, counted, lines)


def _breakdown(
    name: str, plain: Counted, counted: Counted, lines: bool
) -> Iterator[str]:
    before, after = per_function(plain.counts), per_function(counted.counts)
    extra = {
        function: after[function] / counted.saves - before[function] / plain.saves
        for function in after.keys() | before.keys()
    }
    yield f"##### {name}: extra bytecodes per save, by function"
    yield ""
    yield "| function | extra per save |"
    yield "| --- | ---: |"
    for function, number in sorted(extra.items(), key=lambda item: -abs(item[1])):
        if abs(number) >= 0.5:
            yield f"| {function} | {number:+,.1f} |"
    yield ""
    if not lines:
        return
    yield "| line | bytecodes per save |"
    yield "| --- | ---: |"
    for (where, function, line), number in sorted(counted.counts.items()):
        if where.startswith("signals_panel/") and number / counted.saves >= 0.5:
            yield f"| {where}:{line} ({function}) | {number / counted.saves:,.1f} |"
    yield ""


# Runs measure() with the package found under sys.argv[1] (the benchmarks'
# settings and models from sys.argv[2]) and prints each configuration's
# bytecodes per save as JSON.
WORKER = """
import json, os, sys
package_root, root, sizes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, package_root)
sys.path.append(root)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
import django
django.setup()
import signals_panel
assert signals_panel.__file__.startswith(package_root), signals_panel.__file__
from benchmarks import opcodes
results = opcodes.measure(*sizes)
print(json.dumps({name: counted.per_save() for name, counted in results.items()}))
"""


def against(revision: str, sizes: tuple[int, int, int]) -> Iterator[str]:
    """Bytecodes per save of ``revision``'s package and of the work tree's,
    each counted in a process of its own."""
    from benchmarks.compare import ROOT, package_at

    with tempfile.TemporaryDirectory() as scratch:
        roots = {revision: package_at(revision, scratch), "work tree": ROOT}
        figures = {
            name: json.loads(
                subprocess.run(
                    [sys.executable, "-c", WORKER, root, ROOT, json.dumps(sizes)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for name, root in roots.items()
        }
    before, after = figures.values()
    yield f"#### Bytecodes per save: {revision} and the work tree"
    yield ""
    yield f"| configuration | {revision} | work tree | difference |"
    yield "| --- | ---: | ---: | ---: |"
    for name, number in after.items():
        was = before.get(name)
        if was is None:
            yield f"| {name} | | {number:,.0f} | |"
        else:
            yield f"| {name} | {was:,.0f} | {number:,.0f} | {number - was:+,.0f} |"
    yield ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument(
        "--lines",
        action="store_true",
        help="also the count of each line of the package",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="the package at git revision REV beside the work tree's: totals only",
    )
    args = parser.parse_args(argv)
    sizes = (5, 5, 20) if args.quick else (200, WARM_UP, SAVES_PER_RECORDING)
    if args.against:
        print("\n".join(against(args.against, sizes)))
        return 0
    results = measure(*sizes)
    print("\n".join(report(results, sizes[1], args.lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
