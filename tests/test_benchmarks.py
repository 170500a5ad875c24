"""The benchmark script keeps working (a smoke run; no timing is asserted)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*options: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_the_benchmarks_run_and_print_every_table() -> None:
    result = run_bench()
    for title in (
        "(a) Signal.send, 0 receivers",
        "(b) Model.save()",
        "(c) A request with the toolbar on",
        "(d) asend",
        "Memory, stats size and panel render time",
        "Scaling",
    ):
        assert title in result.stdout
    assert "| plain Django |" in result.stdout


def test_the_take_away_benchmark_prints_every_variant() -> None:
    from benchmarks import steps

    rows = [
        line.split("|")[1].strip()
        for line in run_bench("--steps").stdout.splitlines()
        if line.startswith("| ") and "µs" in line
    ]
    assert rows == [steps.AS_IS, *(f"without {name}" for name in steps.VARIANTS)]


def test_a_take_away_edit_that_no_longer_applies_is_named(tmp_path: Path) -> None:
    from benchmarks import steps

    gone = steps.Edit("recorder.py", "code that is not there", "")
    with pytest.raises(steps.EditMissing, match=r"signals_panel/recorder\.py"):
        steps.variant_package((gone,), str(tmp_path))
    # Every edit the tool makes applies to the package as it is.
    for index, edits in enumerate(steps.VARIANTS.values()):
        steps.variant_package(edits, str(tmp_path / str(index)))


@pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None,
    reason="needs a git checkout",
)
def test_the_comparison_runs_a_revision_against_the_work_tree() -> None:
    output = run_bench(
        "--compare", "HEAD", "--config", '{"CAPTURE_SEND_SITE": false}'
    ).stdout
    assert 'recording with {"CAPTURE_SEND_SITE": false}' in output
    rows = [line.split("|")[1].strip() for line in output.splitlines()[4:]]
    assert rows == ["HEAD", "work tree"]


def test_the_bytecode_count_covers_every_configuration_and_nothing_else_runs_more() -> (
    None
):
    from benchmarks import opcodes

    output = run_bench("--opcodes").stdout
    table = output.split("| --- | ---: | ---: | ---: |\n", 1)[1].split("\n\n", 1)[0]
    per_save = {
        cells[0]: float(cells[1].replace(",", ""))
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()
        )
    }
    assert list(per_save) == [
        "plain Django",
        opcodes.OTHER_THREAD,
        *opcodes.CONFIGURATIONS,
        opcodes.DEFAULT,
    ]
    plain = per_save["plain Django"]
    counting, stored, with_site = (per_save[name] for name in opcodes.CONFIGURATIONS)
    assert plain < per_save[opcodes.OTHER_THREAD] < counting < stored < with_site
    # Once a recording has its rows (the whole-recording figure includes the
    # first dispatches, which name their signal and sender), it adds code of
    # its own and replaces the dispatcher's send, and makes nothing else in
    # Django (or anywhere) run one bytecode more.
    sections = {
        section.split(":", 1)[0]: section for section in output.split("##### ")[1:]
    }
    assert set(sections) == {
        opcodes.OTHER_THREAD,
        *opcodes.CONFIGURATIONS,
        opcodes.DEFAULT,
    }
    for name in (opcodes.OTHER_THREAD, *opcodes.CONFIGURATIONS):
        assert "signals_panel/instrumentation.py: send |" in sections[name]
        assert "everything else" not in sections[name], sections[name]


@pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None,
    reason="needs a git checkout",
)
def test_the_bytecode_count_sets_a_revision_beside_the_work_tree() -> None:
    from benchmarks import opcodes

    output = run_bench("--opcodes", "--against", "HEAD").stdout
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in output.splitlines()[4:]
            if line.startswith("| ")
        )
    }
    assert list(rows) == [
        "plain Django",
        opcodes.OTHER_THREAD,
        *opcodes.CONFIGURATIONS,
        opcodes.DEFAULT,
    ]
    # Without a recording the package runs nothing: the same count either
    # way; with one, both versions run more than plain Django.
    plain = int(rows["plain Django"][1].replace(",", ""))
    assert rows["plain Django"][2] == "+0"
    for name in opcodes.CONFIGURATIONS:
        before, after, _ = (int(cell.replace(",", "") or 0) for cell in rows[name])
        assert before > plain and after > plain
