"""Concurrency under load: a threaded live server, many requests at once, and
every stored panel holds exactly its own request's dispatches."""

from __future__ import annotations

import re
import threading
import urllib.request
from typing import Any

import pytest
from django.test import override_settings

from tests.testapp.signals import order_paid
from tests.toolbar import PANEL_ID, connected

THREADS = 16
REQUESTS_PER_THREAD = 40  # bounded: 640 requests on loopback
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
