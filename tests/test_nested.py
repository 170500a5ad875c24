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


quiet = Signal()


def test_the_outer_recordings_own_settings_choose_what_it_takes_in() -> None:
    with (
        connected(ping, noop),
        signals_panel.record({"IGNORE_SIGNALS": [f"{__name__}.pong"]}) as outer,
    ):
        with signals_panel.record({"LIST_SILENT_DISPATCHES": True}) as inner:
            quiet.send(sender="silent")
            pong.send(sender="ignored outside")
            ping.send(sender="kept")
    assert [e.signal_name for e in inner.events] == ["quiet", "pong", "ping"]
    assert [e.signal_name for e in outer.events] == ["ping"]
    assert [row["signal_name"] for row in outer.to_dict()["signals"]] == [
        "ping",
        "quiet",
    ]


def test_a_recording_started_again_does_not_take_in_itself() -> None:
    recording = signals_panel.record()
    with connected(ping, noop), signals_panel.record() as outer:
        recording.start()
        ping.send(sender=None)
        recording.start()
        ping.send(sender=None)
        recording.stop()
    assert len(recording.events) == 2
    assert recording.summary["dispatches"] == 2
    assert outer.summary["dispatches"] == 2


@pytest.mark.django_db
def test_writes_of_models_sharing_a_table_come_along() -> None:
    from django.db import models

    class FolderMirror(models.Model):
        name = models.CharField(max_length=100)

        class Meta:
            app_label = "testapp"
            db_table = Folder._meta.db_table
            managed = False

    folder = Folder.objects.create(name="a")
    with connected(post_save, noop), signals_panel.record() as outer:
        with signals_panel.record() as inner:
            folder.save()
            folder.save()
            FolderMirror.objects.create(name="b")
    assert len(inner.to_dict()["writes"]) == 2
    assert [(w["model"], w["pk"]) for w in outer.to_dict()["writes"]] == [
        ("testapp.Folder", str(folder.pk)),
        ("testapp.Folder", str(folder.pk)),
    ]


def test_a_block_stopped_after_its_outer_recording_leaves_no_stopped_scope() -> None:
    from signals_panel.recorder import current_scope

    outer = signals_panel.record()
    inner = signals_panel.record()
    outer.start()
    inner.start()
    outer.stop()  # the request ended with the block still open
    inner.stop()
    assert current_scope.get() is None


@pytest.mark.django_db
def test_a_recording_around_a_toolbar_request_leaves_out_the_toolbars_signals() -> None:
    from django.test import Client

    from tests.testapp.signals import order_paid

    with connected(order_paid, noop), signals_panel.record() as outer:
        response = Client().get("/pay/")
    assert response.status_code == 200
    rows = {(row["signal"], row["sender"]) for row in outer.to_dict()["signals"]}
    # DebugToolbar._created, a class attribute, is named and so ignored.
    assert not any(signal.startswith("debug_toolbar.") for signal, _ in rows)
    assert not any(" at 0x" in signal for signal, _ in rows)
    assert ("tests.testapp.signals.order_paid", "None") in rows


@pytest.mark.django_db
def test_a_childs_parent_row_written_in_the_block_comes_along() -> None:
    from tests.testapp.models import Place, Restaurant

    restaurant = Restaurant.objects.create(name="Chez", seats=4)
    with connected(post_save, noop), signals_panel.record() as outer:
        place = Place.objects.get(pk=restaurant.pk)
        place.save()
        with signals_panel.record():
            restaurant.save()
    (finding,) = [f for f in outer.findings if f.kind == "repeated_save"]
    assert finding.message.startswith(f"testapp.Place pk={restaurant.pk} was saved 2")
