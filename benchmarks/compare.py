"""Two versions of the package on the save workload, side by side in one run.

    ./bin/bench --compare REV            # REV (a git revision) against the work tree
    ./bin/bench --compare REV --config '{"CAPTURE_SEND_SITE": false}'
    ./bin/bench --compare REV --quick    # a smoke run with tiny counts

Gains of a few percent drown in this machine's noise when two versions are
benchmarked one after the other. Here each version runs in a process of its
own, both started at once and fed round by round: in each round a process
times its saves without recording and with one, so every round yields a
ratio for each version under the same conditions. The medians of those
ratios, and of the extra microseconds per save, are printed. The same
package against itself shows the noise floor: about 1 µs per save here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One version of the package, importable from ``sys.argv[1]``: for each line
# read, time SAVES saves plain and then recorded with the given config, and
# print the two times per save as JSON.
WORKER = """
import json, os, sys, time, gc
package_root, config, saves = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, package_root)
sys.path.append(sys.argv[4])  # the benchmarks' settings and models
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
import django
django.setup()
import signals_panel
assert signals_panel.__file__.startswith(package_root), signals_panel.__file__
from django.core.management import call_command
from django.db.models.signals import post_save, pre_save
from benchmarks.benchapp.models import Item
call_command("migrate", run_syncdb=True, verbosity=0)
def noop(sender, **kwargs): pass
def noop_2(sender, **kwargs): pass
pre_save.connect(noop, sender=Item)
post_save.connect(noop_2, sender=Item)
def per_save():
    started = time.process_time()
    for _ in range(saves):
        Item(name="x", count=1).save()
    return (time.process_time() - started) / saves
for _ in sys.stdin:
    gc.collect()
    plain = per_save()
    gc.collect()
    with signals_panel.record(config):
        recorded = per_save()
    print(json.dumps([plain, recorded]), flush=True)
"""


def package_at(revision: str, into: str) -> str:
    """``signals_panel/`` as it is at ``revision``, extracted under ``into``."""
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", "--format=tar", revision, "signals_panel"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # a Python without extraction filters
            tar.extractall(into)  # our own repository's files
    return into


def compare(
    versions: dict[str, str],
    config: dict[str, object],
    rounds: int,
    saves: int,
    batches: int = 1,
) -> dict[str, tuple[float, float]]:
    """Median (ratio, extra µs per save) of each version, rounds interleaved.

    The rounds are split into ``batches``, each run by fresh processes: a
    process keeps whatever its memory layout costs or saves it for its whole
    life, a bias more rounds would not average out, fresh processes do.
    """
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}
    batches = max(1, min(batches, rounds))
    for batch in range(batches):
        run_rounds(
            versions,
            config,
            rounds // batches + (batch < rounds % batches),
            saves,
            samples,
        )
    return {
        name: (
            statistics.median(recorded / plain for plain, recorded in values),
            statistics.median((recorded - plain) * 1e6 for plain, recorded in values),
        )
        for name, values in samples.items()
    }


def run_rounds(
    versions: dict[str, str],
    config: dict[str, object],
    rounds: int,
    saves: int,
    samples: dict[str, list[tuple[float, float]]],
) -> None:
    """``rounds`` rounds, a fresh process per version, into ``samples``."""
    workers = {
        name: subprocess.Popen(
            [sys.executable, "-c", WORKER, root, json.dumps(config), str(saves), ROOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, root in versions.items()
    }
    try:
        for _ in range(rounds):
            for name, worker in workers.items():
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("round\n")
                worker.stdin.flush()
                line = worker.stdout.readline()
                if not line:
                    raise RuntimeError(f"the worker for {name} stopped")
                samples[name].append(tuple(json.loads(line)))  # type: ignore[arg-type]
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait()


def add_round_options(
    parser: argparse.ArgumentParser, rounds: int, batches: int
) -> None:
    """``--rounds``, ``--batches`` and ``--quick``, for this tool and steps.py."""
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument(
        "--batches",
        type=int,
        default=batches,
        help="fresh processes this many times over the rounds",
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "revision", help="the git revision to compare the work tree with"
    )
    parser.add_argument(
        "--config", default="{}", help="SIGNALS_PANEL keys for the recording, as JSON"
    )
    add_round_options(parser, rounds=15, batches=5)
    args = parser.parse_args(argv)
    rounds, saves = (2, 20) if args.quick else (args.rounds, 1000)
    config = json.loads(args.config)
    with tempfile.TemporaryDirectory() as scratch:
        versions = {
            args.revision: package_at(args.revision, scratch),
            "work tree": ROOT,
        }
        results = compare(
            versions, config, rounds, saves, 1 if args.quick else args.batches
        )
    lines = [
        f"#### Save workload, recording with {json.dumps(config)}: "
        f"medians of {rounds} interleaved rounds of {saves} saves "
        f"({'one set' if args.quick else args.batches} of fresh processes)",
        "",
        "| version | ratio to plain Django | extra per save |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {ratio:.3f}x | {extra:+.1f} µs |"
        for name, (ratio, extra) in results.items()
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
