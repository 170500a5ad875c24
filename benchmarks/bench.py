"""Benchmarks: what the panel costs, as ratios against plain Django in one run.

    ./bin/bench            # the full run (a few minutes), prints Markdown tables
    ./bin/bench --quick    # a smoke run with tiny counts (the test suite uses it)
    ./bin/bench --steps    # what each part of the counting path costs (steps.py)
    ./bin/bench --compare REV  # REV's package against the work tree's (compare.py)
    ./bin/bench --opcodes  # bytecodes a save runs, counted (opcodes.py)

Every configuration is measured alternately, several rounds, and reported by
its median, so that the machine's noise hits all of them alike. With no
recording running anywhere the package patches nothing, so "installed, not
recording" runs the same code as "plain Django": measured separately all the
same, its ratio shows the noise floor of the run. "Not recording, while
another thread records" is the patched dispatcher seen from a context that
does not record (a request without the toolbar on a busy dev server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django

django.setup()

import debug_toolbar  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models.signals import post_init, post_save, pre_save  # noqa: E402
from django.dispatch import Signal  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

import signals_panel  # noqa: E402
from benchmarks.benchapp.models import Item  # noqa: E402
from signals_panel.instrumentation import acquire, is_installed, release  # noqa: E402
from signals_panel.panel import build_context  # noqa: E402

ALL_STORED = {"MAX_EVENTS": 10**7, "MAX_EVENTS_PER_SENDER": 10**7}
# Figures the targets table reads, filled in as the benchmarks run.
FOUND: dict[str, float] = {}


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def noop_2(sender: Any, **kwargs: Any) -> None:
    pass


async def async_noop(sender: Any, **kwargs: Any) -> None:
    pass


@contextlib.contextmanager
def plain_django() -> Iterator[None]:
    """Django with nothing patched: no recording runs anywhere in the process."""
    assert not is_installed(), "a recording is still running"
    yield


@contextlib.contextmanager
def another_thread_records() -> Iterator[None]:
    """The patches in place (some other thread records), none in this context."""
    acquire()
    try:
        yield
    finally:
        release()


def processor_name() -> str:
    """The CPU's model name: the ratios below depend on how fast the machine
    runs a save, the extra time per dispatch much less."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    return platform.processor() or "unknown processor"


def configurations(quick: bool) -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("plain Django", plain_django),
        ("installed, not recording", plain_django),
        ("not recording, while another thread records", another_thread_records),
        ("recording, default settings", signals_panel.record),
        (
            "recording, no send site",
            lambda: signals_panel.record({"CAPTURE_SEND_SITE": False}),
        ),
        (
            "counted only (1 event per signal and sender)",
            lambda: signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}),
        ),
        (
            "every dispatch stored, no send site",
            lambda: signals_panel.record({**ALL_STORED, "CAPTURE_SEND_SITE": False}),
        ),
        (
            "every dispatch stored, send site (default)",
            lambda: signals_panel.record(ALL_STORED),
        ),
        (
            "every dispatch stored, full stacks (20 frames)",
            lambda: signals_panel.record({**ALL_STORED, "STACK_DEPTH": 20}),
        ),
    ]


def medians(
    configs: list[tuple[str, Callable[[], Any]]],
    seconds_per_op: Callable[[Callable[[], Any]], float],
    rounds: int,
) -> dict[str, float]:
    """Median of ``seconds_per_op(make)`` for each configuration, alternating."""
    samples: dict[str, list[float]] = {name: [] for name, _ in configs}
    for _ in range(rounds):
        for name, make in configs:
            gc.collect()
            samples[name].append(seconds_per_op(make))
    return {name: statistics.median(values) for name, values in samples.items()}


def per_op(
    configs: list[tuple[str, Callable[[], Any]]],
    op: Callable[[], Any],
    number: int,
    rounds: int,
) -> dict[str, float]:
    """Median seconds per call of ``op`` under each configuration."""

    def run(make: Callable[[], Any]) -> float:
        with make():
            started = time.perf_counter()
            for _ in range(number):
                op()
            return (time.perf_counter() - started) / number

    return medians(configs, run, rounds)


def per_op_async(
    configs: list[tuple[str, Callable[[], Any]]],
    op: Callable[[], Any],
    number: int,
    rounds: int,
) -> dict[str, float]:
    """The same for a coroutine function, each round in a fresh event loop."""

    async def run(make: Callable[[], Any]) -> float:
        with make():
            started = time.perf_counter()
            for _ in range(number):
                await op()
            return (time.perf_counter() - started) / number

    return medians(configs, lambda make: asyncio.run(run(make)), rounds)


def table(title: str, results: dict[str, float], dispatches_per_op: float) -> list[str]:
    base = results["plain Django"]
    lines = [
        f"#### {title}",
        "",
        "| configuration | per op | ratio | extra per dispatch |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, value in results.items():
        extra = (value - base) / dispatches_per_op * 1e6 if dispatches_per_op else 0.0
        lines.append(
            f"| {name} | {value * 1e6:.2f} µs | {value / base:.3f}x | {extra:+.2f} µs |"
        )
    return [*lines, ""]


def bench_send(quick: bool, number: int, rounds: int) -> list[str]:
    configs = configurations(quick)
    lines: list[str] = []
    for count in (0, 1, 5):
        signal = Signal()
        receivers = [lambda sender, **kw: None for _ in range(count)]
        for receiver in receivers:
            signal.connect(receiver, weak=False)
        results = per_op(
            configs, lambda s=signal: s.send(sender=None, value=1), number, rounds
        )
        lines += table(
            f"(a) Signal.send, {count} receiver{'s' if count != 1 else ''}", results, 1
        )
        if count == 0:
            base = results["plain Django"]
            FOUND["send0_not_recording"] = (
                results["installed, not recording"] - base
            ) * 1e6
            FOUND["send0_other_thread"] = (
                results["not recording, while another thread records"] - base
            ) * 1e6
    return lines


@contextlib.contextmanager
def save_workload() -> Iterator[Callable[[], None]]:
    """Workload (b): one save of a small model with a pre_save and a
    post_save receiver, SQLite in memory; the receivers connected meanwhile."""
    call_command("migrate", run_syncdb=True, verbosity=0)
    pre_save.connect(noop, sender=Item)
    post_save.connect(noop_2, sender=Item)
    try:
        yield lambda: Item(name="x", count=1).save()
    finally:
        pre_save.disconnect(noop, sender=Item)
        post_save.disconnect(noop_2, sender=Item)


def bench_save(quick: bool, number: int, rounds: int) -> list[str]:
    with save_workload() as save:
        results = per_op(configurations(quick), save, number, rounds)
    base = results["plain Django"]
    FOUND["save_plain_us"] = base * 1e6
    FOUND["save_not_recording"] = results["installed, not recording"] / base
    FOUND["save_other_thread"] = (
        results["not recording, while another thread records"] / base
    )
    FOUND["save_default"] = results["recording, default settings"] / base
    FOUND["save_no_site"] = results["recording, no send site"] / base
    FOUND["save_counted"] = (
        results["counted only (1 event per signal and sender)"] / base
    )
    # pre_init, post_init, pre_save, post_save per save.
    return table("(b) Model.save(), two receivers, SQLite in memory", results, 4)


def bench_asend(quick: bool, number: int, rounds: int) -> list[str]:
    signal = Signal()
    for _ in range(3):
        signal.connect(async_noop, weak=False, dispatch_uid=object())
    results = per_op_async(
        configurations(quick), lambda: signal.asend(sender=None), number, rounds
    )
    return table("(d) asend, 3 async receivers", results, 1)


PANEL_SETS = {
    "toolbar, no panel": ["debug_toolbar.panels.versions.VersionsPanel"],
    "+ SignalTimelinePanel": [
        "debug_toolbar.panels.versions.VersionsPanel",
        "signals_panel.panel.SignalTimelinePanel",
    ],
    "+ toolbar's SQLPanel (peer)": [
        "debug_toolbar.panels.versions.VersionsPanel",
        "debug_toolbar.panels.sql.SQLPanel",
    ],
    "+ toolbar's SignalsPanel (peer)": [
        "debug_toolbar.panels.versions.VersionsPanel",
        "debug_toolbar.panels.signals.SignalsPanel",
    ],
}


def reset_workload_rows() -> None:
    """1,000 rows for the request to load, none of the ones it saves."""
    Item.objects.filter(name__startswith="n").delete()
    missing = 1000 - Item.objects.filter(name="seed").count()
    if missing > 0:
        Item.objects.bulk_create(Item(name="seed") for _ in range(missing))


def bench_request(quick: bool, rounds: int) -> list[str]:
    Item.objects.all().delete()
    post_init.connect(noop, sender=Item)
    post_save.connect(noop_2, sender=Item)
    client = Client()
    samples: dict[str, list[float]] = {"plain Django, no toolbar": []}
    samples.update({name: [] for name in PANEL_SETS})
    path = "/workload/"
    try:
        for _ in range(rounds):
            reset_workload_rows()
            with plain_django():
                started = time.perf_counter()
                client.get(path)
                samples["plain Django, no toolbar"].append(
                    time.perf_counter() - started
                )
            for name, panels in PANEL_SETS.items():
                reset_workload_rows()
                with override_settings(DEBUG_TOOLBAR_PANELS=panels):
                    gc.collect()
                    started = time.perf_counter()
                    response = client.get(path, {"toolbar": "1"})
                    samples[name].append(time.perf_counter() - started)
                    assert response.status_code == 200
    finally:
        post_init.disconnect(noop, sender=Item)
        post_save.disconnect(noop_2, sender=Item)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    with override_settings(DEBUG_TOOLBAR_PANELS=PANEL_SETS["+ SignalTimelinePanel"]):
        reset_workload_rows()
        with signals_panel.record() as recording:
            post_init.connect(noop, sender=Item)
            post_save.connect(noop_2, sender=Item)
            try:
                client.get(path)
            finally:
                post_init.disconnect(noop, sender=Item)
                post_save.disconnect(noop_2, sender=Item)
    dispatches = recording.summary["dispatches"]
    queries = 200 + 1  # one INSERT per save, one SELECT
    base = medians["toolbar, no panel"]
    lines = [
        f"#### (c) A request with the toolbar on: 200 saves, 1,000 rows loaded with a post_init receiver ({dispatches} dispatches, {queries} queries)",
        "",
        "| configuration | per request | over 'toolbar, no panel' | per recorded item |",
        "| --- | ---: | ---: | ---: |",
    ]
    per_item = {
        "+ SignalTimelinePanel": dispatches,
        "+ toolbar's SQLPanel (peer)": queries,
    }
    FOUND["request_per_dispatch"] = (
        (medians["+ SignalTimelinePanel"] - base) / dispatches * 1e6
    )
    FOUND["request_per_query"] = (
        (medians["+ toolbar's SQLPanel (peer)"] - base) / queries * 1e6
    )
    for name, value in medians.items():
        extra = value - base
        unit = per_item.get(name)
        per = (
            f"{extra / unit * 1e6:.2f} µs per {'dispatch' if 'Signal' in name else 'query'}"
            if unit
            else ""
        )
        lines.append(
            f"| {name} | {value * 1e3:.2f} ms | {extra * 1e3:+.2f} ms | {per} |"
        )
    return [*lines, ""]


def realistic_events(count: int, config: dict[str, Any] | None = None) -> Any:
    """A recording of ``count`` stored dispatches: saves with nested signals."""
    custom = Signal()
    custom.connect(noop, weak=False)

    def nested(sender: Any, instance: Item, **kwargs: Any) -> None:
        custom.send(sender=Item, item=instance.pk, note="nested <b>html</b>")

    post_save.connect(nested, sender=Item)
    pre_save.connect(noop, sender=Item)
    try:
        with signals_panel.record({**ALL_STORED, **(config or {})}) as recording:
            item = Item(name="x")
            while len(recording.events) < count:
                item.save()
    finally:
        post_save.disconnect(nested, sender=Item)
        pre_save.disconnect(noop, sender=Item)
    return recording


def bench_sizes(quick: bool) -> list[str]:
    from django.template.loader import render_to_string

    lines = [
        "#### Memory, stats size and panel render time",
        "",
        "| stored events | peak memory while recording | per 1,000 events | stats JSON | per 1,000 events | to_dict + detectors | panel render |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for count in (100, 1000, 2000, 5000) if not quick else (100,):
        gc.collect()
        tracemalloc.start()
        recording = realistic_events(count)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        started = time.perf_counter()
        stats = recording.to_dict()
        analysed = time.perf_counter() - started
        size = len(json.dumps(stats))
        stats = json.loads(json.dumps(stats))  # as the toolbar's store returns it
        started = time.perf_counter()
        render_to_string("signals_panel/panel.html", build_context(stats))
        rendered = time.perf_counter() - started
        events = len(stats["events"])
        lines.append(
            f"| {events} | {peak / 1e6:.1f} MB | {peak / events * 1000 / 1e6:.2f} MB | "
            f"{size / 1e6:.2f} MB | {size / events * 1000 / 1e3:.0f} kB | {analysed * 1e3:.0f} ms | {rendered * 1e3:.0f} ms |"
        )
    return [*lines, ""]


def bench_scaling(quick: bool) -> list[str]:
    signal = Signal()
    signal.connect(noop, weak=False)
    lines = [
        "#### Scaling: one recording of N dispatches (recording + to_dict with detectors)",
        "",
        "| dispatches | default caps: per dispatch | every event stored: per dispatch | stored events |",
        "| ---: | ---: | ---: | ---: |",
    ]
    sizes = (1000, 10_000, 100_000) if not quick else (1000,)
    for count in sizes:
        row = [f"{count:,}"]
        stored = 0
        for config in ({}, ALL_STORED):
            gc.collect()
            started = time.perf_counter()
            with signals_panel.record(config) as recording:
                for n in range(count):
                    signal.send(sender=Item, n=n)
            recording.to_dict()
            row.append(f"{(time.perf_counter() - started) / count * 1e6:.2f} µs")
            stored = len(recording.events)
        lines.append("| " + " | ".join([*row, f"{stored:,}"]) + " |")
    return [*lines, ""]


def bench_flood(quick: bool) -> list[str]:
    """100,000 dispatches in one recording with default settings: what stays."""
    from django.template.loader import render_to_string

    count = 100_000 if not quick else 2_000
    signal = Signal()
    signal.connect(noop, weak=False)
    # 50 senders, so that the total cap (not only the per-sender one) is hit.
    senders = [type(f"Sender{n}", (), {}) for n in range(50)]
    gc.collect()
    tracemalloc.start()
    with signals_panel.record() as recording:
        for n in range(count):
            signal.send(sender=senders[n % 50], n=n, payload="x" * 100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = json.loads(json.dumps(recording.to_dict()))
    started = time.perf_counter()
    render_to_string("signals_panel/panel.html", build_context(stats))
    rendered = time.perf_counter() - started
    FOUND["flood_peak_mb"] = peak / 1e6
    FOUND["flood_render_s"] = rendered
    summary = stats["summary"]
    return [
        f"#### {count:,} dispatches in one recording, default settings",
        "",
        "| dispatches | stored | counted only | peak memory while recording | stats JSON | panel render |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {summary['dispatches']:,} | {summary['stored']:,} | {summary['not_stored']:,} | "
        f"{peak / 1e6:.1f} MB | {len(json.dumps(stats)) / 1e6:.2f} MB | {rendered * 1e3:.0f} ms |",
        "",
    ]


def targets() -> list[str]:
    """The issue's targets against what this run measured."""

    def extra(ratio: str) -> str:
        # The same cost is a smaller ratio on a slower machine: say both.
        plain = FOUND["save_plain_us"]
        return f"+{(FOUND[ratio] - 1) * plain:.1f} µs per save"

    rows = [
        (
            "not recording, save: <= 1.02x",
            f"{FOUND['save_not_recording']:.3f}x of plain Django's "
            f"{FOUND['save_plain_us']:.1f} µs save (while another thread records: "
            f"{FOUND['save_other_thread']:.3f}x)",
            FOUND["save_not_recording"] <= 1.02,
        ),
        (
            "not recording, send with no receivers: <= +0.15 µs",
            f"{FOUND['send0_not_recording']:+.2f} µs (while another thread records: "
            f"{FOUND['send0_other_thread']:+.2f} µs)",
            FOUND["send0_not_recording"] <= 0.15,
        ),
        (
            "recording, default settings, save: <= 1.10x",
            f"{FOUND['save_default']:.3f}x, {extra('save_default')} "
            f"(past the caps, counted only: {FOUND['save_counted']:.3f}x, "
            f"{extra('save_counted')})",
            FOUND["save_default"] <= 1.10,
        ),
        (
            "recording without send site, save: <= 1.05x",
            f"{FOUND['save_no_site']:.3f}x, {extra('save_no_site')}",
            FOUND["save_no_site"] <= 1.05,
        ),
        (
            "per recorded dispatch < SQL panel per recorded query",
            f"{FOUND['request_per_dispatch']:.1f} µs vs {FOUND['request_per_query']:.1f} µs",
            FOUND["request_per_dispatch"] < FOUND["request_per_query"],
        ),
        (
            "100,000 dispatches: bounded memory, render < 0.5 s",
            f"peak {FOUND['flood_peak_mb']:.1f} MB, render {FOUND['flood_render_s'] * 1e3:.0f} ms",
            FOUND["flood_render_s"] < 0.5,
        ),
    ]
    lines = [
        "#### Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | :---: |",
    ]
    lines += [
        f"| {name} | {value} | {'yes' if ok else 'no'} |" for name, value, ok in rows
    ]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument(
        "--steps",
        action="store_true",
        help="only what each part of the counting path costs, taken away one at "
        "a time (benchmarks/steps.py; --rounds and --batches go with it)",
    )
    parser.add_argument(
        "--compare",
        metavar="REV",
        help="the save workload of git revision REV against the work tree "
        "(benchmarks/compare.py; --config, --rounds and --batches go with it)",
    )
    parser.add_argument(
        "--opcodes",
        action="store_true",
        help="only the bytecodes the recording adds to a save, counted "
        "(benchmarks/opcodes.py; --lines and --against REV go with it)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.opcodes:
        from benchmarks import opcodes

        return opcodes.main([*rest, *(["--quick"] if args.quick else [])])
    if args.compare:
        from benchmarks import compare

        return compare.main([args.compare, *rest, *(["--quick"] if args.quick else [])])
    if args.steps:
        from benchmarks import steps

        return steps.main([*rest, *(["--quick"] if args.quick else [])])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    quick = args.quick
    call_command("migrate", run_syncdb=True, verbosity=0)
    number, rounds = (50, 2) if quick else (20_000, 7)
    lines = [
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"django-debug-toolbar {debug_toolbar.VERSION}, {platform.machine()} "
        f"({processor_name()}), {os.cpu_count()} CPUs; medians of {rounds} alternating rounds "
        f"({rounds * 2 + 1} for saves).",
        "",
    ]
    lines += bench_send(quick, number, rounds)
    # Saves are the noisiest workload here: shorter rounds, twice as many.
    lines += bench_save(quick, number // 20, rounds * 2 + 1)
    lines += bench_request(quick, rounds if quick else 9)
    lines += bench_asend(quick, number // 10, rounds)
    lines += bench_sizes(quick)
    lines += bench_scaling(quick)
    lines += bench_flood(quick)
    lines += targets()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
