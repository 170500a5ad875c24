"""Parity: with a recording active, Django behaves exactly as without one."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import re
import threading
import weakref
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models.query import QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import Signal
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

import signals_panel
from signals_panel.instrumentation import is_installed
from tests.testapp.models import BlogPost, Folder, Note
from tests.toolbar import connected


def first(sender: Any, **kwargs: Any) -> str:
    return "first"


def second(sender: Any, **kwargs: Any) -> str:
    return "second"


async def third_async(sender: Any, **kwargs: Any) -> str:
    await asyncio.sleep(0)
    return "third"


class Listener:
    def on_signal(self, sender: Any, **kwargs: Any) -> str:
        return "method"

    def __call__(self, sender: Any, **kwargs: Any) -> str:
        return "callable"


def fails(sender: Any, **kwargs: Any) -> None:
    raise ValueError("receiver failed")


def send_twice(method: str, signal: Signal, **named: Any) -> tuple[Any, Any]:
    """The same dispatch without and then with a recording."""
    plain = getattr(signal, method)(sender=None, **named)
    with signals_panel.record():
        recorded = getattr(signal, method)(sender=None, **named)
    return plain, recorded


def normalized_sql(captured: CaptureQueriesContext) -> list[str]:
    return [re.sub(r"\d+", "N", query["sql"]) for query in captured.captured_queries]


PATCHED = [
    (Signal, "send"),
    (Signal, "send_robust"),
    (Signal, "asend"),
    (Signal, "asend_robust"),
    (Signal, "_live_receivers"),
    (QuerySet, "update"),
    (QuerySet, "bulk_create"),
    (QuerySet, "bulk_update"),
    (CursorWrapper, "_execute_with_wrappers"),
]


def ours(owner: type, name: str) -> bool:
    return bool(getattr(owner.__dict__[name], "__signals_panel__", False))


def test_django_runs_its_own_methods_unless_something_records() -> None:
    originals = {key: key[0].__dict__[key[1]] for key in PATCHED}
    assert not is_installed()
    assert not any(ours(*key) for key in PATCHED)
    with signals_panel.record():
        assert all(ours(*key) for key in PATCHED)
        with signals_panel.record():
            pass
        # The inner recording stopping leaves the outer one's patches.
        assert all(ours(*key) for key in PATCHED)
        assert Signal.send.__wrapped__ is originals[(Signal, "send")]
    assert not is_installed()
    assert {key: key[0].__dict__[key[1]] for key in PATCHED} == originals


def test_stopping_twice_releases_the_patches_once() -> None:
    outer = signals_panel.record()
    outer.start()
    inner = signals_panel.record()
    inner.start()
    inner.stop()
    inner.stop()
    assert is_installed()
    outer.stop()
    assert not is_installed()


def test_a_patch_made_on_top_of_ours_is_kept_and_still_works() -> None:
    original = Signal.send
    calls: list[str] = []
    signal = Signal()
    signal.connect(first)
    recording = signals_panel.record()
    recording.start()
    ours_send = Signal.send

    def other_library(self: Signal, sender: Any, **named: Any) -> Any:
        calls.append("other")
        return ours_send(self, sender, **named)

    Signal.send = other_library  # type: ignore[method-assign]
    try:
        signal.send(sender=None)
        recording.stop()
        # Removing ours would have removed the other library's patch too.
        assert Signal.send is other_library
        assert signal.send(sender=None) == [(first, "first")]
        with signals_panel.record() as again:
            signal.send(sender=None)
        assert [event.signal for event in recording.events] == [
            event.signal for event in again.events
        ]
        assert len(again.events) == 1
        assert calls == ["other"] * 3
    finally:
        # As the other library would undo its patch: put back what it wrapped.
        Signal.send = ours_send  # type: ignore[method-assign]
    with signals_panel.record():
        pass
    assert Signal.send is original
    assert not is_installed()


def test_a_patch_under_ours_that_returns_no_list_is_passed_through() -> None:
    """Another library patched Signal.send before the recording started and
    returns a tuple: the caller gets that tuple, counted or stored."""
    django_send = Signal.send

    def other_library(self: Signal, sender: Any, **named: Any) -> Any:
        return tuple(django_send(self, sender, **named))

    signal = Signal()
    signal.connect(first)
    Signal.send = other_library  # type: ignore[method-assign]
    try:
        with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording:
            stored = signal.send(sender=None)
            counted = signal.send(sender=None)
    finally:
        Signal.send = django_send  # type: ignore[method-assign]
    # Stored, the wrappers are mapped back to the receivers; counted, the
    # responses are untouched.
    assert stored == counted == ((first, "first"),)
    row = recording.to_dict()["signals"][0]
    assert (row["dispatches"], row["not_stored"], row["receivers_run"]) == (2, 1, 2)
    assert recording.summary["internal_errors"] == 0


def test_a_patch_under_ours_still_sees_dispatches_nobody_listens_to() -> None:
    """Django's send returns [] at once when nothing is connected, and the
    patched send answers that itself; not when another library's patch is
    underneath, which must still be called, recording or not."""
    django_send = Signal.send
    seen: list[Any] = []

    def other_library(self: Signal, sender: Any, **named: Any) -> Any:
        seen.append(sender)
        return django_send(self, sender, **named)

    unconnected = Signal()
    Signal.send = other_library  # type: ignore[method-assign]
    try:
        with signals_panel.record() as recording:
            assert unconnected.send(sender="recorded") == []
            outside = threading.Thread(target=unconnected.send, args=("elsewhere",))
            outside.start()
            outside.join()
    finally:
        Signal.send = django_send  # type: ignore[method-assign]
    assert sorted(seen) == ["elsewhere", "recorded"]
    assert recording.summary["silent"] == 1


def test_a_signal_nobody_listens_to_returns_a_new_empty_list_each_time() -> None:
    unconnected = Signal()
    with signals_panel.record() as recording:
        first_responses = unconnected.send(sender=None)
        first_responses.append("mine")
        assert unconnected.send(sender=None) == []
        assert unconnected.send_robust(sender=None) == []
    assert unconnected.send(sender=None) == []
    assert recording.summary["silent"] == 3


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_responses_hold_the_original_receivers_in_order(method: str) -> None:
    signal = Signal()
    listener = Listener()
    partial = functools.partial(first)
    signal.connect(first)
    signal.connect(listener.on_signal)
    signal.connect(listener, weak=False)
    signal.connect(partial, weak=False)
    signal.connect(third_async)
    signal.connect(second)

    plain, recorded = send_twice(method, signal, value=1)

    assert recorded == plain
    assert [receiver for receiver, _ in recorded] == [
        first,
        listener.on_signal,
        listener,
        partial,
        second,
        third_async,
    ]
    # Bound methods are re-created by each dispatch; everything else is the
    # very object that was connected.
    assert all(
        r1 is r2
        for (r1, _), (r2, _) in zip(plain, recorded, strict=True)
        if not inspect.ismethod(r1)
    )


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_async_responses_hold_the_original_receivers_in_order(method: str) -> None:
    signal = Signal()
    signal.connect(first)
    signal.connect(third_async)
    signal.connect(second)

    async def run() -> tuple[Any, Any]:
        plain = await getattr(signal, method)(sender=None)
        async with signals_panel.record():
            recorded = await getattr(signal, method)(sender=None)
        return plain, recorded

    plain, recorded = asyncio.run(run())
    assert (
        recorded
        == plain
        == [(first, "first"), (second, "second"), (third_async, "third")]
    )


def test_send_raises_the_same_exception_and_stops_the_loop() -> None:
    signal = Signal()
    calls: list[str] = []

    def after(sender: Any, **kwargs: Any) -> None:
        calls.append("after")

    signal.connect(fails)
    signal.connect(after)
    with pytest.raises(ValueError, match="receiver failed") as plain:
        signal.send(sender=None)
    with signals_panel.record(), pytest.raises(ValueError) as recorded:
        signal.send(sender=None)
    assert type(recorded.value) is type(plain.value)
    assert recorded.value.args == plain.value.args
    assert calls == []


def test_send_robust_returns_the_error_objects_and_logs_the_same_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = Signal()
    signal.connect(fails)
    signal.connect(second)

    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        plain, recorded = send_twice("send_robust", signal)
    assert [r for r, _ in recorded] == [fails, second]
    assert isinstance(recorded[0][1], ValueError)
    assert recorded[1] == plain[1] == (second, "second")
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0] == messages[1]
    assert "fails" in messages[0]


def test_asend_robust_returns_async_errors_too() -> None:
    signal = Signal()

    async def async_fails(sender: Any, **kwargs: Any) -> None:
        raise KeyError("async")

    signal.connect(async_fails)

    async def run() -> Any:
        async with signals_panel.record() as recording:
            responses = await signal.asend_robust(sender=None)
        return responses, recording

    responses, recording = asyncio.run(run())
    assert responses[0][0] is async_fails
    assert isinstance(responses[0][1], KeyError)
    assert recording.events[0].receivers[0].error == "KeyError: 'async'"


# With DEBUG on, Signal.connect() checks the receiver's signature through an
# lru_cache that keeps it alive: Django's own doing, with or without a panel.
@override_settings(DEBUG=False)
def test_weak_receivers_are_still_collected_after_a_recording() -> None:
    signal = Signal()

    def local_receiver(sender: Any, **kwargs: Any) -> str:
        return "alive"

    signal.connect(local_receiver)
    reference = weakref.ref(local_receiver)
    with signals_panel.record() as recording:
        assert signal.send(sender=None) == [(local_receiver, "alive")]
    del local_receiver
    gc.collect()
    assert reference() is None
    assert signal.send(sender=None) == []
    assert recording.summary["internal_errors"] == 0, recording.summary
    assert recording.events[0].receivers[0].name.endswith("local_receiver")


@pytest.mark.django_db
def test_recording_keeps_no_instance_alive() -> None:
    with (
        connected(post_save, second, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        post = BlogPost.objects.create(title="gone soon")
        reference = weakref.ref(post)
        del post
        gc.collect()
        assert reference() is None
    assert recording.events[0].target is not None


@pytest.mark.django_db
def test_fast_delete_stays_fast_and_sql_is_identical() -> None:
    def plain_run() -> list[str]:
        folder = Folder.objects.create(name="f")
        Note.objects.bulk_create([Note(folder=folder) for _ in range(5)])
        with CaptureQueriesContext(connection) as captured:
            folder.delete()
        return normalized_sql(captured)

    plain = plain_run()
    with signals_panel.record():
        recorded = plain_run()
    assert recorded == plain
    # One DELETE for all notes, no SELECT of each note: the fast path.
    assert not any("SELECT" in sql and "testapp_note" in sql for sql in recorded)


@pytest.mark.django_db
def test_m2m_add_stays_a_single_bulk_insert() -> None:
    User = get_user_model()
    users = [User.objects.create(username=f"u{i}") for i in range(3)]

    def add_likes() -> list[str]:
        post = BlogPost.objects.create(title="liked")
        with CaptureQueriesContext(connection) as captured:
            post.liked.add(*users)
        return normalized_sql(captured)

    plain = add_likes()
    with signals_panel.record():
        recorded = add_likes()
    assert recorded == plain
    assert sum("INSERT" in sql for sql in recorded) <= 1


@pytest.mark.django_db
def test_same_queries_with_receivers_and_the_panel_runs_none() -> None:
    def on_saved(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        BlogPost.objects.filter(pk=instance.pk).count()

    def run() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            post = BlogPost.objects.create(title="q")
            post.title = "q2"
            post.save()
            post.delete()
        return normalized_sql(captured)

    with (
        connected(post_save, on_saved, sender=BlogPost),
        connected(pre_delete, second),
        connected(post_delete, second),
    ):
        plain = run()
        with signals_panel.record() as recording:
            recorded = run()
    assert recorded == plain
    assert recording.summary["dispatches"] > 0


def test_disconnect_and_connect_during_a_dispatch_behave_as_without_recording() -> None:
    def run() -> tuple[list[Any], list[Any]]:
        signal = Signal()

        def late(sender: Any, **kwargs: Any) -> str:
            return "late"

        def rewires(sender: Any, **kwargs: Any) -> str:
            signal.disconnect(second)
            signal.connect(late, weak=False)
            return "rewired"

        signal.connect(rewires, weak=False)
        signal.connect(second, weak=False)
        first_send = [response for _, response in signal.send(sender=None)]
        second_send = [response for _, response in signal.send(sender=None)]
        return first_send, second_send

    plain = run()
    with signals_panel.record():
        recorded = run()
    assert recorded == plain == (["rewired", "second"], ["rewired", "late"])


@pytest.mark.django_db
def test_a_users_execute_wrapper_inside_a_receiver_is_removed_as_usual() -> None:
    seen: list[str] = []

    def user_wrapper(
        execute: Any, sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    def wraps_queries(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        with connection.execute_wrapper(user_wrapper):
            BlogPost.objects.filter(pk=instance.pk).exists()

    with connected(post_save, wraps_queries, sender=BlogPost), signals_panel.record():
        BlogPost.objects.create(title="w")
    assert len(seen) == 1
    assert user_wrapper not in connection.execute_wrappers


def test_has_listeners_is_unchanged_while_recording() -> None:
    signal = Signal()
    with signals_panel.record():
        assert signal.has_listeners() is False
        signal.connect(second)
        assert signal.has_listeners() is True


@override_settings(DEBUG=False)
def test_a_recording_keeps_no_sender_alive() -> None:
    signal = Signal(use_caching=True)
    signal.connect(second)

    class Sender:
        pass

    reference = weakref.ref(Sender)
    with signals_panel.record() as recording:
        signal.send(sender=Sender)
        del Sender
        gc.collect()
        assert reference() is None
    assert recording.events[0].sender == (
        "tests.test_instrumentation.test_a_recording_keeps_no_sender_alive.<locals>.Sender"
    )


# Past its cap a (signal, sender) row is only counted: the same dispatch,
# run by the counting path of the patched send.
COUNTED = {"MAX_EVENTS_PER_SENDER": 1}


def send_stored_then_counted(signal: Signal, method: str = "send") -> list[Any]:
    """What the first (stored) and the second (counted) dispatch return."""
    with signals_panel.record(COUNTED) as recording:
        responses = [getattr(signal, method)(sender=None, value=i) for i in range(2)]
    row = recording.to_dict()["signals"][0]
    assert (row["dispatches"], row["not_stored"]) == (2, 1)
    assert recording.summary["internal_errors"] == 0
    return responses


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_counted_dispatches_return_what_django_returns(method: str) -> None:
    signal = Signal()
    listener = Listener()
    signal.connect(first)
    signal.connect(listener.on_signal)
    signal.connect(third_async)
    signal.connect(second)
    plain = getattr(signal, method)(sender=None, value=0)
    stored, counted = send_stored_then_counted(signal, method)
    assert stored == counted == plain
    assert [receiver for receiver, _ in counted][-1] is third_async


def test_a_counted_dispatch_raises_the_same_exception_and_stops_the_loop() -> None:
    signal = Signal()
    calls: list[int] = []

    def fails_second_time(sender: Any, value: int, **kwargs: Any) -> None:
        if value:
            raise ValueError("second time")

    def after(sender: Any, value: int, **kwargs: Any) -> None:
        calls.append(value)

    signal.connect(fails_second_time)
    signal.connect(after)
    with signals_panel.record(COUNTED) as recording:
        signal.send(sender=None, value=0)
        with pytest.raises(ValueError, match="second time"):
            signal.send(sender=None, value=1)
    assert calls == [0]
    row = recording.to_dict()["signals"][0]
    assert (row["dispatches"], row["errors"]) == (2, 1)


def test_a_live_receivers_patch_made_while_recording_is_called() -> None:
    """Another library wrapping ``Signal._live_receivers`` after ours sees
    every dispatch, stored or counted, and what it returns is used."""
    signal = Signal()
    signal.connect(first)
    signal.connect(second)
    seen: list[Any] = []
    with signals_panel.record(COUNTED) as recording:
        ours_live = Signal._live_receivers

        def other_library(self: Signal, sender: Any) -> Any:
            sync_receivers, async_receivers = ours_live(self, sender)
            seen.append(self)
            return list(reversed(sync_receivers)), async_receivers

        Signal._live_receivers = other_library  # type: ignore[method-assign]
        try:
            responses = [signal.send(sender=None) for _ in range(2)]
        finally:
            Signal._live_receivers = ours_live  # type: ignore[method-assign]
    assert seen == [signal, signal]
    assert responses == [[(second, "second"), (first, "first")]] * 2
    assert [call.name for call in recording.events[0].receivers] == [
        "tests.test_instrumentation.second",
        "tests.test_instrumentation.first",
    ]


def test_a_signal_subclass_choosing_its_receivers_is_honoured() -> None:
    class Filtered(Signal):
        def _live_receivers(self, sender: Any) -> Any:
            sync_receivers, async_receivers = super()._live_receivers(sender)
            return [r for r in sync_receivers if r is not second], async_receivers

    signal = Filtered()
    signal.connect(first)
    signal.connect(second)
    plain = signal.send(sender=None, value=0)
    assert (
        send_stored_then_counted(signal) == [plain, plain] == [[(first, "first")]] * 2
    )


def test_a_context_that_does_not_record_gets_what_django_returns() -> None:
    """While a recording runs elsewhere the patches are in place: another
    thread's dispatches, and ignored senders, run as in Django."""
    signal = Signal()
    signal.connect(first)
    signal.connect(third_async)
    signal.connect(second, sender="only-this-sender")
    failing = Signal()
    failing.connect(fails)
    plain = [signal.send(sender=s) for s in (None, "only-this-sender")]
    outcomes: list[Any] = []

    def elsewhere() -> None:
        outcomes.append([signal.send(sender=s) for s in (None, "only-this-sender")])
        try:
            failing.send(sender=None)
        except ValueError as error:
            outcomes.append(error.args)

    with signals_panel.record({"IGNORE_SENDERS": ["'only-"]}) as recording:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        ignored = signal.send(sender="only-this-sender")
    assert outcomes == [plain, ("receiver failed",)]
    assert ignored == plain[1]
    assert [r for r, _ in plain[1]] == [first, second, third_async]
    assert recording.summary["dispatches"] == 0


@pytest.mark.parametrize("config", [None, COUNTED], ids=["stored", "counted"])
def test_a_send_with_async_receivers_is_counted_once_raise_or_not(
    config: dict[str, Any] | None,
) -> None:
    """Django runs a send's async receivers its own way: the dispatch goes to
    its method, and is accounted for once, whether a receiver raises or not."""
    signal = Signal()
    signal.connect(first)
    signal.connect(third_async)
    failing = Signal()
    failing.connect(fails)
    failing.connect(third_async)
    with signals_panel.record(config) as recording:
        for _ in range(2):
            assert signal.send(sender=None) == [
                (first, "first"),
                (third_async, "third"),
            ]
            with pytest.raises(ValueError, match="receiver failed"):
                failing.send(sender=None)
    rows = sorted(
        (row["dispatches"], row["errors"]) for row in recording.to_dict()["signals"]
    )
    assert rows == [(2, 0), (2, 2)]
    assert recording.summary["internal_errors"] == 0
