"""A recording started inside another: both see the inner block's dispatches."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models.signals import post_save
from django.dispatch import Signal

import signals_panel
from tests.testapp.models import BlogPost, Folder
from tests.toolbar import connected

ping = Signal()
pong = Signal()


def answer(sender: Any, **kwargs: Any) -> None:
    pong.send(sender=sender, answer=1)


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def test_the_outer_recording_takes_in_the_inner_ones_events() -> None:
    with (
        connected(ping, answer),
        connected(pong, noop),
        signals_panel.record() as outer,
    ):
        ping.send(sender="before")
        with signals_panel.record() as inner:
            ping.send(sender="inside")
        ping.send(sender="after")
    assert [(e.id, e.signal_name, e.sender, e.parent) for e in inner.events] == [
        (0, "ping", "'inside'", None),
        (1, "pong", "'inside'", 0),
    ]
    assert [(e.id, e.signal_name, e.sender, e.parent) for e in outer.events] == [
        (0, "ping", "'before'", None),
        (1, "pong", "'before'", 0),
        (2, "ping", "'inside'", None),
        (3, "pong", "'inside'", 2),
        (4, "ping", "'after'", None),
        (5, "pong", "'after'", 4),
    ]
    starts = [event.start_ms for event in outer.events]
    assert starts == sorted(starts)
    assert outer.summary["dispatches"] == 6
    assert outer.summary["receivers_run"] == 6
    # The inner recording's own events are left as they were.
    assert inner.events[0].id == 0 and inner.summary["dispatches"] == 2


@pytest.mark.django_db
def test_a_recording_started_inside_a_receiver_nests_under_it() -> None:
    def records_inside(sender: Any, **kwargs: Any) -> None:
        Folder.objects.count()
        with signals_panel.record():
            pong.send(sender="nested")
            Folder.objects.count()

    with (
        connected(ping, noop),
        connected(ping, records_inside),
        connected(pong, noop),
        signals_panel.record() as outer,
    ):
        ping.send(sender=None)
    first, nested = outer.events
    assert (nested.parent, nested.parent_receiver, nested.depth) == (0, 1, 1)
    # Its queries, inside the inner block too, count for the receiver.
    assert first.receivers[1].queries == 2
    # Dispatched from a receiver: not top-level time twice.
    assert outer.summary["dispatch_ms"] == pytest.approx(first.duration_ms, abs=0.01)


@pytest.mark.django_db
def test_a_row_saved_in_the_outer_block_and_again_in_the_inner_one() -> None:
    with connected(post_save, noop, sender=BlogPost), signals_panel.record() as outer:
        post = BlogPost.objects.create(title="once")
        with signals_panel.record() as inner:
            post.save()
    assert [f.kind for f in inner.findings] == []
    (finding,) = [f for f in outer.findings if f.kind == "repeated_save"]
    assert finding.events == [0, 1]  # the two post_save events


def test_the_outer_caps_apply_to_what_it_takes_in() -> None:
    with (
        connected(ping, noop),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 3}) as outer,
    ):
        ping.send(sender=None)
        with signals_panel.record() as inner:
            for _ in range(5):
                ping.send(sender=None)
    assert len(inner.events) == 5
    assert len(outer.events) == 3
    (row,) = outer.to_dict()["signals"]
    assert (row["dispatches"], row["not_stored"]) == (6, 3)
    assert "truncated" in [finding.kind for finding in outer.findings]
    # Past the cap, the outer recording counts its own dispatches again.
    with (
        connected(ping, noop),
        signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as outer,
    ):
        with signals_panel.record():
            ping.send(sender=None)
        ping.send(sender=None)
    assert len(outer.events) == 1
    assert outer.summary["dispatches"] == 2


@pytest.mark.django_db
def test_bulk_writes_inside_come_along() -> None:
    with connected(post_save, noop, sender=Folder), signals_panel.record() as outer:
        with signals_panel.record():
            Folder.objects.bulk_create([Folder(name="a")])
    assert [f.kind for f in outer.findings] == ["signals_bypassed"]
