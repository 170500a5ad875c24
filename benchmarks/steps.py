"""Where the time of a recorded save goes, once the caps are reached.

    ./bin/bench --steps          # about a minute; prints a Markdown table
    ./bin/bench --steps --quick  # a smoke run with tiny counts

The save workload of ``bench.py`` (a small model, a pre_save and a post_save
receiver, SQLite in memory), recorded with one stored event per signal and
sender so that, after a warm-up, every dispatch takes the counting path. Each
row adds one step to the one above: Django with nothing patched; the patches
in place for another context; then, inside a recording, ``Signal.send``
replaced by reduced versions that only read the recording's scope, then also
find the (signal, sender) row, count, and time; then the real patched send
without the write log, without send sites, and as by default. Each
configuration runs alternately with the others and is reported by its median
CPU time per save; differences of about 1 µs are noise on a busy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.core.management import call_command
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal

import signals_panel
from benchmarks import bench  # sets Django up
from benchmarks.benchapp.models import Item
from signals_panel.instrumentation import _django_send, acquire, is_installed, release
from signals_panel.recorder import Recorder, current_scope

# Django's own method, taken before any recording patches it.
DJANGO_SEND = Signal.send
PAST_THE_CAPS = {"MAX_EVENTS_PER_SENDER": 1}
NO_SITE = {**PAST_THE_CAPS, "CAPTURE_SEND_SITE": False}


def reduced_send(lookup: bool, count: bool, timing: bool) -> Callable[..., Any]:
    """A stand-in for the patched send doing only the steps asked for.

    It runs the receivers as the patched send does (``_django_send``).
    """
    perf_counter = time.perf_counter

    def send(self: Signal, sender: Any, **named: Any) -> Any:
        scope = current_scope.get()
        if scope is None or not lookup:
            return _django_send(self, sender, named, DJANGO_SEND)
        recorder = scope.recorder
        senders = recorder.rows_by_signal.get(id(self))
        cached = senders.get(id(sender)) if senders is not None else None
        row = cached[0] if cached is not None else recorder.new_row(self, sender)
        if row is None or not count:
            return _django_send(self, sender, named, DJANGO_SEND)
        row.dispatches += 1
        if not timing:
            return _django_send(self, sender, named, DJANGO_SEND)
        started = perf_counter()
        responses = _django_send(self, sender, named, DJANGO_SEND)
        row.duration_ms += (perf_counter() - started) * 1000
        return responses

    return send


@contextlib.contextmanager
def recording_with(
    config: dict[str, Any],
    send: Callable[..., Any] | None = None,
    write_log: bool = True,
) -> Iterator[None]:
    """A recording, its ``Signal.send`` or its write log possibly replaced."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(signals_panel.record(config))
        if send is not None:
            patched = Signal.send
            setattr(Signal, "send", send)  # noqa: B010
            stack.callback(setattr, Signal, "send", patched)
        if not write_log:
            stack.callback(setattr, Recorder, "note_write", Recorder.note_write)
            setattr(Recorder, "note_write", lambda *args: None)  # noqa: B010
        yield


@contextlib.contextmanager
def another_context_records() -> Iterator[None]:
    acquire()
    try:
        yield
    finally:
        release()


STEPS: list[tuple[str, Callable[[], Any]]] = [
    ("plain Django", contextlib.nullcontext),
    ("patches in place, this context not recording", another_context_records),
    (
        "recording, send only reads the scope",
        lambda: recording_with(NO_SITE, reduced_send(False, False, False)),
    ),
    (
        "+ finds the (signal, sender) row",
        lambda: recording_with(NO_SITE, reduced_send(True, False, False)),
    ),
    (
        "+ counts the dispatch",
        lambda: recording_with(NO_SITE, reduced_send(True, True, False)),
    ),
    (
        "+ times it",
        lambda: recording_with(NO_SITE, reduced_send(True, True, True)),
    ),
    (
        "the patched send, no write log, no send site",
        lambda: recording_with(NO_SITE, write_log=False),
    ),
    ("+ the write log", lambda: recording_with(NO_SITE)),
    ("+ its send sites (default settings)", lambda: recording_with(PAST_THE_CAPS)),
]


def cpu_seconds_per_save(make: Callable[[], Any], warm_up: int, saves: int) -> float:
    with make():
        for _ in range(warm_up):
            Item(name="x", count=1).save()
        started = time.process_time()
        for _ in range(saves):
            Item(name="x", count=1).save()
        return (time.process_time() - started) / saves


def measure(quick: bool) -> list[str]:
    warm_up, saves, rounds = (5, 20, 2) if quick else (200, 1500, 21)
    samples: dict[str, list[float]] = {name: [] for name, _ in STEPS}
    for _ in range(rounds):
        for name, make in STEPS:
            gc.collect()
            samples[name].append(cpu_seconds_per_save(make, warm_up, saves))
    results = {name: statistics.median(values) for name, values in samples.items()}
    base = results["plain Django"]
    lines = [
        "#### Where a recorded save goes, past the caps (CPU time)",
        "",
        "| step | per save | over plain Django | added by this step |",
        "| --- | ---: | ---: | ---: |",
    ]
    previous = base
    for name, value in results.items():
        lines.append(
            f"| {name} | {value * 1e6:.1f} µs | {(value - base) * 1e6:+.1f} µs "
            f"| {(value - previous) * 1e6:+.1f} µs |"
        )
        previous = value
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    args = parser.parse_args(argv)
    assert not is_installed(), "a recording is running"
    call_command("migrate", run_syncdb=True, verbosity=0)
    pre_save.connect(bench.noop, sender=Item)
    post_save.connect(bench.noop_2, sender=Item)
    try:
        print("\n".join(measure(args.quick)))
    finally:
        pre_save.disconnect(bench.noop, sender=Item)
        post_save.disconnect(bench.noop_2, sender=Item)
    return 0


if __name__ == "__main__":
    sys.exit(main())
