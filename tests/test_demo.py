"""The demo project's own suite (demo/demo_tests), run with the demo's settings.

Django allows one settings module per process, so it runs in a subprocess.
"""

from __future__ import annotations

from pathlib import Path

from tests.toolbar import run_pytest

DEMO = Path(__file__).resolve().parent.parent / "demo"


def test_every_demo_scenario_passes_through_the_real_toolbar() -> None:
    run_pytest("demo_site.settings", cwd=str(DEMO))
