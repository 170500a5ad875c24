"""Concurrency under load: a threaded live server, many requests at once, and
every stored panel holds exactly its own request's dispatches."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.test import override_settings

from tests.testapp.signals import order_paid
from tests.toolbar import PANEL_ID, connected

THREADS = 16
REQUESTS_PER_THREAD = 40  # bounded: 640 requests on loopback
ROOT = Path(__file__).resolve().parent.parent
REQUEST_ID = re.compile(rb'data-request-id="([0-9a-f]+)"')


def noop(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.mark.django_db(transaction=True)
@override_settings(
    DEBUG_TOOLBAR_CONFIG={
        "IS_RUNNING_TESTS": False,
        "SHOW_TOOLBAR_CALLBACK": "tests.settings.show_toolbar",
        "RESULTS_CACHE_SIZE": 200,
    }
)
def test_sixteen_threads_of_requests_each_see_only_their_own_dispatches(
    live_server: Any,
) -> None:
    from debug_toolbar.toolbar import DebugToolbar

    mismatches: list[str] = []
    errors: list[BaseException] = []
    done = []

    def worker(thread: int) -> None:
        try:
            for number in range(REQUESTS_PER_THREAD):
                note = f"t{thread}-r{number}"
                url = f"{live_server.url}/pay/?note={note}"
                with urllib.request.urlopen(url, timeout=30) as response:
                    body = response.read()
                match = REQUEST_ID.search(body)
                assert match is not None, body[:200]
                toolbar = DebugToolbar.fetch(match.group(1).decode(), PANEL_ID)
                assert toolbar is not None
                events = toolbar.get_panel_by_id(PANEL_ID).get_stats()["events"]
                seen = [(e["signal_name"], e["kwargs"].get("note")) for e in events]
                if seen != [("order_paid", f"'{note}'")]:
                    mismatches.append(f"{note}: {seen}")
                done.append(note)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    with connected(order_paid, noop):
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not errors, errors[:3]
    assert mismatches == []
    assert len(done) == THREADS * REQUESTS_PER_THREAD


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def uvicorn_server() -> Iterator[str]:
    """The test project under uvicorn (a real ASGI server), on loopback."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/probe/async/", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"uvicorn exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_concurrent_async_views_under_uvicorn_each_see_their_own_dispatches(
    uvicorn_server: str,
) -> None:
    errors: list[BaseException] = []
    mismatches: list[str] = []
    done: list[str] = []

    def worker(thread: int) -> None:
        try:
            for number in range(15):
                amount = f"{thread}.{number}"
                with urllib.request.urlopen(
                    f"{uvicorn_server}/probe/async/?amount={amount}", timeout=30
                ) as response:
                    body = response.read()
                match = REQUEST_ID.search(body)
                assert match is not None
                query = urllib.parse.urlencode(
                    {"request_id": match.group(1).decode(), "panel_id": PANEL_ID}
                )
                with urllib.request.urlopen(
                    f"{uvicorn_server}/__debug__/render_panel/?{query}", timeout=30
                ) as response:
                    content = json.loads(response.read())["content"]
                panel = BeautifulSoup(content, "html.parser")
                rows = panel.select("tr.djsp-event")
                seen = [
                    (
                        row["data-djsp-signal"],
                        [dd.get_text() for dd in row.select(".djsp-kwargs dd")],
                    )
                    for row in rows
                ]
                if seen != [("probe", [f"'{amount}'"])]:
                    mismatches.append(f"{amount}: {seen}")
                done.append(amount)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    assert mismatches == []
    assert len(done) == 8 * 15
