"""Hostile input: each case keeps the caller's behaviour, loses nothing it
should keep, and renders clearly."""

from __future__ import annotations

import contextvars
import gc
from typing import Any

import pytest
from django.dispatch import Signal

import signals_panel
from tests.testapp.models import BlogPost
from tests.toolbar import connected


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def test_multi_megabyte_and_binary_values_are_cut() -> None:
    signal = Signal()
    signal.connect(noop)
    huge = "é" * 5_000_000
    with signals_panel.record() as recording:
        signal.send(
            sender=None,
            text=huge,
            blob=bytes(range(256)) * 20_000,
            latin=huge.encode("latin-1", "replace"),
            broken=b"\xff\xfe\xfa not utf-8",
        )
    kwargs = recording.events[0].kwargs
    assert all(len(value) <= 200 for value in kwargs.values())
    assert kwargs["text"].startswith("'éé") and kwargs["text"].endswith("…")
    assert kwargs["blob"].endswith("… (5120000 bytes)")
    assert kwargs["broken"] == "b'\\xff\\xfe\\xfa not utf-8'"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sender", "shown"),
    [
        (None, "None"),
        ("checkout", "'checkout'"),
        (42, "42"),
        (BlogPost, "testapp.BlogPost"),
    ],
)
def test_any_kind_of_sender_is_named(sender: Any, shown: str) -> None:
    signal = Signal()
    signal.connect(noop)
    with signals_panel.record() as recording:
        assert signal.send(sender=sender) == [(noop, None)]
    assert recording.events[0].sender == shown


@pytest.mark.django_db
def test_a_model_instance_as_sender_is_named_without_its_str() -> None:
    post = BlogPost.objects.create(title="<b>sender</b>")
    signal = Signal()
    signal.connect(noop)
    with signals_panel.record() as recording:
        signal.send(sender=post)
    assert recording.events[0].sender == f"testapp.BlogPost pk={post.pk}"


def test_a_weak_receiver_collected_by_an_earlier_receiver_behaves_as_without() -> None:
    def run() -> list[str]:
        signal = Signal()
        holder: dict[str, Any] = {}

        def victim(sender: Any, **kwargs: Any) -> str:
            return "victim ran"

        def killer(sender: Any, **kwargs: Any) -> str:
            holder.clear()
            gc.collect()
            return "killer ran"

        holder["victim"] = victim
        signal.connect(killer, weak=False)
        signal.connect(holder["victim"])
        del victim
        first = [response for _, response in signal.send(sender=None)]
        second = [response for _, response in signal.send(sender=None)]
        return [*first, "|", *second]

    plain = run()
    with signals_panel.record():
        recorded = run()
    assert recorded == plain


def test_a_million_dispatches_stay_within_the_caps() -> None:
    silent = Signal()
    busy = Signal()
    busy.connect(noop)
    with signals_panel.record() as recording:
        for _ in range(1_000_000):
            silent.send(sender=None)
        for n in range(20_000):
            busy.send(sender=None, n=n)
    summary = recording.summary
    assert summary["dispatches"] == 1_020_000
    assert summary["silent"] == 1_000_000
    assert len(recording.events) == 100  # MAX_EVENTS_PER_SENDER
    assert summary["not_stored"] == 19_900
    assert [f.kind for f in recording.findings] == ["truncated"]


def test_a_recording_stopped_mid_dispatch_ignores_what_follows() -> None:
    signal, after = Signal(), Signal()
    after.connect(noop)
    holder: dict[str, Any] = {}

    def stops_the_recording(sender: Any, **kwargs: Any) -> str:
        holder["recording"].stop()
        after.send(sender="after the stop")
        return "ok"

    signal.connect(stops_the_recording)
    recording = signals_panel.record()
    holder["recording"] = recording
    recording.start()
    try:
        responses = signal.send(sender="first")
    finally:
        recording.stop()
    assert responses == [(stops_the_recording, "ok")]
    assert [event.sender for event in recording.events] == ["'first'"]
    recording.to_dict()  # stats still build


def test_a_context_copied_during_a_recording_records_nothing_once_it_stops() -> None:
    """A task or thread started inside a recording keeps a copy of its context;
    what it sends after the recording stopped is not added to it (another
    recording keeps the patches in place meanwhile)."""
    listened, unheard = Signal(), Signal()
    listened.connect(noop)
    with signals_panel.record():
        with signals_panel.record() as recording:
            copied = contextvars.copy_context()
            listened.send(sender="during")
        before = recording.to_dict()
        for signal in (listened, unheard):
            assert copied.run(signal.send, sender="after") == (
                [(noop, None)] if signal is listened else []
            )
        # A (signal, sender) pair the recording had met, and so had cached.
        assert copied.run(listened.send, sender="during") == [(noop, None)]
    after = recording.to_dict()
    assert after["signals"] == before["signals"]
    assert after["summary"] == before["summary"]
    assert [event.sender for event in recording.events] == ["'during'"]


def test_a_receiver_connecting_another_mid_dispatch() -> None:
    def run() -> list[list[Any]]:
        signal = Signal()

        def late(sender: Any, **kwargs: Any) -> str:
            return "late"

        def connector(sender: Any, **kwargs: Any) -> str:
            signal.connect(late, weak=False)
            return "connector"

        signal.connect(connector, weak=False)
        return [
            [response for _, response in signal.send(sender=None)] for _ in range(2)
        ]

    plain = run()
    with signals_panel.record():
        assert run() == plain


def test_receivers_raising_base_exceptions_propagate_unchanged() -> None:
    signal = Signal()

    def interrupts(sender: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    with connected(signal, interrupts), signals_panel.record() as recording:
        with pytest.raises(KeyboardInterrupt):
            signal.send(sender=None)
        # send_robust only catches Exception: BaseException still propagates.
        with pytest.raises(KeyboardInterrupt):
            signal.send_robust(sender=None)
    assert [call.error for event in recording.events for call in event.receivers] == [
        "KeyboardInterrupt",
        "KeyboardInterrupt",
    ]
