"""Parity at the edges: Signal subclasses, odd keyword arguments, odd async
receivers, odd senders and modules. Each test runs the same dispatch without
and with a recording and compares what Django gives back."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import importlib.util
import sys
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from django.utils.functional import SimpleLazyObject

import signals_panel
from tests.testapp.models import Folder

SEND_METHODS = ("send", "send_robust", "asend", "asend_robust")


def first(sender: Any, **kwargs: Any) -> str:
    return "first"


def second(sender: Any, **kwargs: Any) -> str:
    return "second"


def dispatch(signal: Signal, method: str, **named: Any) -> Any:
    """``signal.<method>(sender=None, **named)``, awaited for the async ones."""
    result = getattr(signal, method)(sender=None, **named)
    return asyncio.run(_awaited(result)) if method.startswith("a") else result


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def outcome(call: Callable[[], Any]) -> Any:
    """What a call returned, or the type and message of what it raised."""
    try:
        result = call()
    except Exception as error:
        return ("raised", type(error).__name__, str(error))
    if isinstance(result, list):
        return [
            (
                receiver,
                (type(response).__name__, str(response))
                if isinstance(response, Exception)
                else response,
            )
            for receiver, response in result
        ]
    return result


def plain_and_recorded(call: Callable[[], Any]) -> tuple[Any, Any]:
    plain = outcome(call)
    with signals_panel.record():
        recorded = outcome(call)
    return plain, recorded


class PicksByIdentity(Signal):
    """A subclass that drops one receiver by identity."""

    def _live_receivers(self, sender: Any) -> Any:
        receivers, async_receivers = super()._live_receivers(sender)
        return [r for r in receivers if r is not second], async_receivers


@pytest.mark.parametrize("method", SEND_METHODS)
def test_a_subclass_picking_receivers_by_identity_sees_the_receivers(
    method: str,
) -> None:
    signal = PicksByIdentity()
    signal.connect(first, weak=False)
    signal.connect(second, weak=False)
    plain, recorded = plain_and_recorded(lambda: dispatch(signal, method))
    assert plain == recorded == [(first, "first")]


def test_such_a_dispatch_is_counted_not_stored() -> None:
    signal = PicksByIdentity()
    signal.connect(first, weak=False)
    with signals_panel.record() as recording:
        signal.send_robust(sender=None)
    (row,) = recording.to_dict()["signals"]
    assert (row["dispatches"], row["receivers_run"], row["not_stored"]) == (1, 1, 1)
    assert row["unstorable"] == 1
    assert recording.events == []


@pytest.mark.parametrize("method", SEND_METHODS)
def test_dispatches_no_setting_stores_are_not_called_truncated(method: str) -> None:
    # No cap kept them out: the "raise the caps" advice would not help.
    signal = PicksByIdentity()
    signal.connect(first, weak=False)
    with signals_panel.record() as recording:
        dispatch(signal, method)
        dispatch(signal, method)
    summary = recording.summary
    # send() runs the receivers itself (the subclass's lookup is only asked
    # for them): stored. The others hand them to Django's loop: counted.
    unstorable = 0 if method == "send" else 2
    assert (summary["stored"], summary["unstorable"]) == (2 - unstorable, unstorable)
    assert (summary["not_stored"], summary["truncated"]) == (unstorable, 0)
    assert [f.kind for f in recording.findings] == []


def test_a_signal_keyword_argument_is_unstorable_not_truncated() -> None:
    signal = Signal()
    signal.connect(first, weak=False)
    with signals_panel.record() as recording:
        signal.send_robust(sender=None, signal="forged")
        with pytest.raises(TypeError):
            signal.send(sender=None, signal="forged")
    assert (recording.summary["unstorable"], recording.summary["truncated"]) == (2, 0)
    assert "truncated" not in [f.kind for f in recording.findings]


class LogsByIdentity(Signal):
    """A subclass whose ``_log_robust_failure`` is handed the receiver."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[Any] = []

    def _log_robust_failure(self, receiver: Any, err: Exception) -> None:
        self.failed.append(receiver)


def fails(sender: Any, **kwargs: Any) -> None:
    raise ValueError("failed")


def test_a_subclass_logging_robust_failures_is_handed_the_receiver() -> None:
    signal = LogsByIdentity()
    signal.connect(fails, weak=False)
    plain_and_recorded(lambda: signal.send_robust(sender=None))
    assert signal.failed == [fails, fails]


def forwards(sender: Any, **kwargs: Any) -> None:
    # A relay passing its keyword arguments on, ``signal`` among them.
    relayed.send(sender=sender, **kwargs)


relayed = Signal()


def test_a_signal_keyword_argument_fails_as_in_django_stored_or_not() -> None:
    source = Signal()
    source.connect(forwards, weak=False)
    relayed.connect(first, weak=False)
    try:
        plain = outcome(lambda: source.send(sender=None))
        with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}):
            stored = outcome(lambda: source.send(sender=None))
            past_cap = outcome(lambda: source.send(sender=None))
    finally:
        relayed.disconnect(first)
    assert plain[:2] == ("raised", "TypeError")
    assert "got multiple values for keyword argument 'signal'" in plain[2]
    assert plain == stored == past_cap


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_a_signal_keyword_argument_gives_djangos_error(method: str) -> None:
    signal = Signal()
    signal.connect(first, weak=False)
    plain, recorded = plain_and_recorded(
        lambda: getattr(signal, method)(sender=None, signal="forged")
    )
    assert plain == recorded


class Unhashable(Signal):
    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = None  # type: ignore[assignment]


module_level_unhashable = Unhashable()


@pytest.mark.django_db
def test_an_unhashable_signal_subclass_is_recorded() -> None:
    local = Unhashable()
    local.connect(first, weak=False)
    plain, recorded = plain_and_recorded(lambda: local.send(sender=None))
    assert plain == recorded == [(first, "first")]
    with signals_panel.record() as recording:
        module_level_unhashable.send(sender=None)
        Folder.objects.create(name="f")
    assert recording.summary["dispatches"] >= 3


def test_a_lazy_sender_nobody_listens_to_is_not_evaluated() -> None:
    evaluated: list[int] = []

    def load() -> Any:
        evaluated.append(1)
        raise LookupError("the lazy object failed to load")

    signal = Signal()
    plain, recorded = plain_and_recorded(
        lambda: signal.send(sender=SimpleLazyObject(load))
    )
    assert plain == recorded == []
    assert evaluated == []


@pytest.mark.django_db
def test_a_lazy_user_sender_runs_the_queries_django_runs() -> None:
    user = get_user_model().objects.create(username="lazy")
    signal = Signal()
    signal.connect(first, weak=False)

    def send() -> int:
        # Django hashes the sender (its receiver cache): that loads it.
        lazy = SimpleLazyObject(lambda: get_user_model().objects.get(pk=user.pk))
        with CaptureQueriesContext(connection) as queries:
            signal.send(sender=lazy)
        return len(queries)

    plain = send()
    with signals_panel.record() as recording:
        recorded = send()
    assert plain == recorded == 1
    assert recording.events[0].sender.startswith("<SimpleLazyObject")


class Handler:
    async def on_event(self, sender: Any, **kwargs: Any) -> str:
        # Background work: a task copies the context it was made in.
        asyncio.get_running_loop().create_task(asyncio.sleep(0.05))
        return "handled"

    def on_sync(self, sender: Any, **kwargs: Any) -> str:
        kept_contexts.append(contextvars.copy_context())
        return "handled"


kept_contexts: list[contextvars.Context] = []


@pytest.mark.parametrize("method", SEND_METHODS)
@pytest.mark.parametrize("name", ["on_event", "on_sync"])
def test_a_context_copied_by_a_receiver_does_not_keep_it_alive(
    method: str, name: str
) -> None:
    if name == "on_event" and not method.startswith("a"):
        pytest.skip("Django's sync send runs async receivers in a new loop")

    def run(recorded: bool) -> tuple[bool, int]:
        signal = Signal()
        handler = Handler()
        signal.connect(getattr(handler, name))  # weakly
        reference = weakref.ref(handler)

        async def main() -> tuple[bool, int]:
            nonlocal handler
            if recorded:
                async with signals_panel.record():
                    await _awaited_or_value(getattr(signal, method)(sender=None))
            else:
                await _awaited_or_value(getattr(signal, method)(sender=None))
            for _ in range(5):
                await asyncio.sleep(0)
            del handler
            gc.collect()
            alive = reference() is not None
            left = await signal.asend(sender=None)
            await asyncio.sleep(0.06)
            return alive, len(left)

        try:
            return asyncio.run(main())
        finally:
            kept_contexts.clear()

    assert run(recorded=False) == run(recorded=True) == (False, 0)


async def _awaited_or_value(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


def returns_none(sender: Any, **kwargs: Any) -> None:
    return None


class IteratorAwaitable:
    def __await__(self) -> Any:
        return iter([])


def returns_iterator_awaitable(sender: Any, **kwargs: Any) -> IteratorAwaitable:
    return IteratorAwaitable()


def raises_at_call(sender: Any, **kwargs: Any) -> None:
    raise ValueError("raised before any awaitable")


async def later(sender: Any, **kwargs: Any) -> str:
    ran.append("later")
    return "later"


ran: list[str] = []


# Django leaves coroutines unawaited in these cases, recorded or not.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("method", ["asend", "asend_robust"])
@pytest.mark.parametrize(
    "receiver", [returns_none, returns_iterator_awaitable, raises_at_call]
)
def test_async_receivers_are_called_and_awaited_as_django_does(
    method: str, receiver: Callable[..., Any]
) -> None:
    """Receivers Django takes for async (marked coroutine functions) that do
    not give a coroutine: the same result, error and receivers run."""
    marked = _marked_coroutine_function(receiver)
    signal = Signal()
    signal.connect(marked, weak=False)
    signal.connect(later, weak=False)

    def call() -> Any:
        ran.clear()
        result = outcome(lambda: dispatch(signal, method))
        return result, list(ran)

    plain, recorded = plain_and_recorded(call)
    assert plain == recorded


def _marked_coroutine_function(function: Callable[..., Any]) -> Callable[..., Any]:
    from asgiref.sync import markcoroutinefunction

    def receiver(sender: Any, **kwargs: Any) -> Any:
        return function(sender, **kwargs)

    receiver.__name__ = receiver.__qualname__ = function.__name__
    return markcoroutinefunction(receiver)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", ["update", "bulk_create"])
def test_bulk_writes_leave_the_save_signals_receiver_caches_alone(
    operation: str,
) -> None:
    def write() -> None:
        if operation == "update":
            Folder.objects.filter(name="none").update(name="x")
        else:
            Folder.objects.bulk_create([Folder(name="b")])

    pre_save.connect(first, sender=Folder, weak=False)
    try:
        for signal in (pre_save, post_save):
            signal.sender_receivers_cache.clear()
        with signals_panel.record():
            write()
        assert Folder not in pre_save.sender_receivers_cache
        assert Folder not in post_save.sender_receivers_cache
    finally:
        pre_save.disconnect(first, sender=Folder)


def test_the_signal_name_scan_does_not_load_lazy_modules(tmp_path: Any) -> None:
    source = tmp_path / "lazily_loaded_plugin.py"
    source.write_text("raise ImportError('an optional dependency is missing')\n")
    spec = importlib.util.spec_from_file_location("lazily_loaded_plugin", source)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lazily_loaded_plugin"] = module
    spec.loader.exec_module(module)
    try:
        signal = Signal()
        signal.connect(first, weak=False)
        with signals_panel.record() as recording:
            assert signal.send(sender=None) == [(first, "first")]
        assert recording.events[0].receivers[0].name.endswith("first")
    finally:
        del sys.modules["lazily_loaded_plugin"]


def raises(sender: Any, **kwargs: Any) -> None:
    raise ValueError("from the receiver")


@pytest.mark.parametrize("method", ["send", "asend"])
def test_a_counted_dispatch_that_raised_counts_a_receiver_run_only_if_one_ran(
    method: str,
) -> None:
    signal = Signal()
    signal.connect(raises, weak=False)
    # Past the cap (one stored per signal and sender), dispatches are counted.
    with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording:
        for named in ({}, {}, {"signal": "forged"}):
            with pytest.raises((ValueError, TypeError)):
                result = getattr(signal, method)(sender=None, **named)
                if method == "asend":
                    asyncio.run(_awaited(result))
    (row,) = recording.to_dict()["signals"]
    # The stored one and the counted one ran their receiver; the forged
    # argument failed in Django's call, before it.
    assert (row["dispatches"], row["errors"], row["receivers_run"]) == (3, 3, 2)


class CountsLookups(Signal):
    """A subclass counting its own receiver lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def _live_receivers(self, sender: Any) -> Any:
        self.lookups += 1
        return super()._live_receivers(sender)


def _lookups_per_dispatch(signal: Any, method: str, counter: Callable[[], int]) -> Any:
    """Receiver lookups of one dispatch, plain and recorded (stored, then past
    the cap), with what the dispatch gave."""
    found = []
    for config in (None, {}, {"MAX_EVENTS_PER_SENDER": 1}):
        recording = (
            signals_panel.record(config)
            if config is not None
            else contextlib.nullcontext()
        )
        with recording:
            for _ in range(2):  # past the cap: the second is counted only
                before = counter()
                result = outcome(lambda: dispatch(signal, method))
                found.append((counter() - before, result))
    return found


@pytest.mark.parametrize("method", SEND_METHODS)
def test_a_subclass_lookup_runs_once_per_dispatch_with_async_receivers(
    method: str,
) -> None:
    signal = CountsLookups()
    signal.connect(first, weak=False)
    signal.connect(later, weak=False)
    found = _lookups_per_dispatch(signal, method, lambda: signal.lookups)
    assert {lookups for lookups, _ in found} == {1}
    assert len({repr(result) for _, result in found}) == 1


@pytest.mark.parametrize("method", SEND_METHODS)
def test_the_lookup_underneath_runs_once_per_dispatch_with_async_receivers(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another library's patch of Signal._live_receivers, under the panel's.
    calls = []
    djangos = Signal._live_receivers

    def counting(self: Signal, sender: Any) -> Any:
        calls.append(sender)
        return djangos(self, sender)

    monkeypatch.setattr(Signal, "_live_receivers", counting)
    signal = Signal()
    signal.connect(first, weak=False)
    signal.connect(later, weak=False)
    found = _lookups_per_dispatch(signal, method, lambda: len(calls))
    assert {lookups for lookups, _ in found} == {1}
    assert len({repr(result) for _, result in found}) == 1
