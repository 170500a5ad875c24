"""What each part of the counting path costs, found by taking it away.

    ./bin/bench --steps                # about two minutes; prints a Markdown table
    ./bin/bench --steps --rounds 80 --batches 16   # tighter figures
    ./bin/bench --steps --quick        # a smoke run with tiny counts

The save workload of ``bench.py`` (a small model, a pre_save and a post_save
receiver, SQLite in memory), recorded past the caps (one stored event per
signal and sender, no send sites), so that after the first save every
dispatch takes the counting path. Each variant is the work tree's package
with one part of that path edited out, in a scratch copy; every variant and
the package as it is run side by side, a process each, fed round by round
(``compare.py``), and in fresh processes several times over: a process keeps
the bias of its memory layout all its life, which more rounds in the same
processes would not average out. What a part costs is the package's extra
time per save minus the variant's. Differences under about 1 µs are noise.

An edit is an exact piece of source and its replacement: when the source
changes so that one no longer applies, this tool stops and says which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from typing import NamedTuple

from benchmarks.compare import ROOT, add_round_options, compare

PAST_THE_CAPS = {"MAX_EVENTS_PER_SENDER": 1, "CAPTURE_SEND_SITE": False}
AS_IS = "the package as it is"


class Edit(NamedTuple):
    module: str
    old: str
    new: str


# The patched send, right after it has the recording's scope.
_AFTER_SCOPE = "        recorder = scope.recorder\n        # Recorder.row_for(), inline"
_NO_CLOCK = (
    Edit(
        "instrumentation.py",
        "failures.\n        started = perf_counter()\n",
        "failures.\n        started = 0.0\n",
    ),
    Edit(
        "instrumentation.py",
        "        duration = (perf_counter() - started) * 1000\n",
        "        duration = 0.0\n",
    ),
)

VARIANTS: dict[str, tuple[Edit, ...]] = {
    "the write log (a post_save row written twice)": (
        Edit(
            "recorder.py",
            'Never raises.\n        """\n        try:\n'
            '            instance: Any = named.get("instance")',
            'Never raises.\n        """\n        return\n        try:\n'
            '            instance: Any = named.get("instance")',
        ),
    ),
    "timing the dispatches with receivers (four clock reads)": _NO_CLOCK,
    "counting the dispatches nobody listens to (pre_init, post_init)": (
        Edit(
            "instrumentation.py",
            _AFTER_SCOPE,
            "        if not self.receivers:\n            return []\n" + _AFTER_SCOPE,
        ),
    ),
    "counting, timing and logging the dispatches with receivers": (
        Edit(
            "instrumentation.py",
            _AFTER_SCOPE,
            "        if self.receivers:\n"
            "            return _django_send(self, sender, named, original)\n"
            + _AFTER_SCOPE,
        ),
    ),
    "all accounting (the patched send only runs Django's loop)": (
        Edit(
            "instrumentation.py",
            _AFTER_SCOPE,
            "        if not self.receivers:\n            return []\n"
            "        return _django_send(self, sender, named, original)\n"
            + _AFTER_SCOPE,
        ),
    ),
    "the cursor patch (every query asks whether a receiver runs)": (
        Edit(
            "instrumentation.py",
            '        (CursorWrapper, "_execute_with_wrappers", _query_patch),\n',
            "",
        ),
    ),
}


class EditMissing(RuntimeError):
    pass


def variant_package(edits: tuple[Edit, ...], into: str) -> str:
    """A copy of the work tree's ``signals_panel/`` under ``into``, edited."""
    package = os.path.join(into, "signals_panel")
    shutil.copytree(
        os.path.join(ROOT, "signals_panel"),
        package,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for edit in edits:
        path = os.path.join(package, edit.module)
        with open(path, encoding="utf-8") as source:
            text = source.read()
        if text.count(edit.old) != 1:
            raise EditMissing(
                f"benchmarks/steps.py: an edit no longer applies to "
                f"signals_panel/{edit.module} (its source changed): {edit.old!r}"
            )
        with open(path, "w", encoding="utf-8") as source:
            source.write(text.replace(edit.old, edit.new))
    return into


def measure(rounds: int, saves: int, batches: int) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        versions = {AS_IS: ROOT}
        for index, (name, edits) in enumerate(VARIANTS.items()):
            versions[name] = variant_package(edits, os.path.join(scratch, str(index)))
        results = compare(versions, PAST_THE_CAPS, rounds, saves, batches)
    ratio, extra = results[AS_IS]
    lines = [
        "#### What each part of the counting path costs, taken away one at a time",
        "",
        f"Save workload recorded with {json.dumps(PAST_THE_CAPS)}: "
        f"medians of {rounds} interleaved rounds of {saves} saves, CPU time, "
        f"each version in a process of its own, fresh ones {batches} times.",
        "",
        "| version | ratio to plain Django | extra per save | the part costs |",
        "| --- | ---: | ---: | ---: |",
        f"| {AS_IS} | {ratio:.3f}x | {extra:+.1f} µs | |",
    ]
    for name in VARIANTS:
        ratio, without = results[name]
        lines.append(
            f"| without {name} | {ratio:.3f}x | {without:+.1f} µs "
            f"| {extra - without:.1f} µs |"
        )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_round_options(parser, rounds=40, batches=8)
    args = parser.parse_args(argv)
    rounds, saves, batches = (
        (2, 20, 1) if args.quick else (args.rounds, 1000, args.batches)
    )
    print("\n".join(measure(rounds, saves, batches)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
