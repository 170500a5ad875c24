"""The patch of Django's dispatcher, in place only while something records.

``Signal.send``, ``send_robust``, ``asend`` and ``asend_robust`` are replaced
when the first recording starts (``acquire()``) and put back when the last one
stops (``release()``), chaining to whatever was there before. With no
recording anywhere in the process, Django runs its own methods: nothing is
added to a dispatch or a query. While some recording runs, a dispatch outside
it (another thread, another task) costs one ContextVar lookup and a branch.

Over Django's own ``Signal.send``, the patched send runs the dispatch itself,
in Django's steps and order (``_sync_receivers``, ``_django_send``,
``_send_stored``): the arguments are not re-packed into a second call, and a
stored dispatch calls each sync receiver as Django does, timed, with a scope
of its own current while it runs (``_run_receiver``), without a wrapper
object whose call re-packs the arguments.
Otherwise (``send_robust``, async receivers, ``asend*``, another library's
patch underneath) the method underneath runs, after a "pending" marker is
left for the patched ``Signal._live_receivers``: Django calls it right after
its "no receivers" short-circuit and before calling anyone, so it is the one
place that sees the receivers of that dispatch and can hand back wrappers
(each one the scope of its receiver's code).
``has_listeners()`` also calls ``_live_receivers`` but never has a pending
marker, so query planning (fast deletes, m2m bulk inserts) is untouched.
Responses always hold the original receivers. Dispatches that will not be
stored (their (signal, sender) row is flagged "count only" once a cap is
reached, or nobody listens) are counted and timed in the patched send itself,
without a call into the recorder; a signal with nothing connected at all is
answered with ``[]`` there, as Django's own method would, unless another
library's patch is underneath.

Django-version differences are confined to this module. All supported
versions (5.2, 6.0, 6.1) return ``(sync_receivers, async_receivers)`` from
``_live_receivers``; 6.1 runs async receivers in a TaskGroup that shares one
context, which is why async wrappers re-establish their scope at every step
of the coroutine instead of relying on ``ContextVar.set`` in a task of their
own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import os
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple

from django.db.backends.utils import CursorWrapper
from django.db.models.query import QuerySet
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal, dispatcher
from django.dispatch.dispatcher import NO_RECEIVERS

from .describe import describe_exception, fields_left_unsaved
from .recorder import Dispatch, ReceiverCall, Recorder, Scope, current_scope

perf_counter = time.perf_counter

MARK = "__signals_panel__"
SEND_METHODS = ("send", "send_robust")
# Writes that send no pre_save/post_save. Their async twins (aupdate...) run
# these through sync_to_async, so patching the sync ones covers both.
BULK_OPERATIONS = ("update", "bulk_create", "bulk_update")
ASEND_METHODS = ("asend", "asend_robust")

_pending: contextvars.ContextVar[Dispatch | None] = contextvars.ContextVar(
    "signals_panel_pending", default=None
)
# (signal, its _live_receivers() result) the patched send found with async
# receivers in it, for the method underneath to take instead of asking again.
_found: contextvars.ContextVar[tuple[Signal, Any] | None] = contextvars.ContextVar(
    "signals_panel_found", default=None
)
# Set while a bulk operation runs: bulk_update() calls update() per batch.
_in_bulk: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "signals_panel_in_bulk", default=False
)
_lock = threading.Lock()
# How many recordings are running, in any thread.
_users = 0
# (class, attribute) -> (original, patch) for each patch made.
_patches: dict[tuple[type, str], tuple[Any, Any]] = {}


def acquire() -> None:
    """A recording starts: make sure the patches are in place."""
    global _users
    with _lock:
        _users += 1
        if _users == 1:
            _patch_all()


def release() -> None:
    """A recording stops: the last one out puts Django's methods back."""
    global _users
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0:
            _unpatch_all()


def is_installed() -> bool:
    """True while any patch of this module is in place."""
    return bool(_patches)


def _targets() -> list[tuple[type, str, Callable[[Any, str], Any]]]:
    return [
        *((Signal, method, _sync_sender) for method in SEND_METHODS),
        *((Signal, method, _async_sender) for method in ASEND_METHODS),
        (Signal, "_live_receivers", _live_receivers_patch),
        *((QuerySet, operation, _bulk_patch) for operation in BULK_OPERATIONS),
        (CursorWrapper, "_execute_with_wrappers", _query_patch),
    ]


def _patch_all() -> None:
    for owner, name, make in _targets():
        if (owner, name) in _patches:
            continue  # an earlier patch another library wrapped: still there
        original = getattr(owner, name)
        patched = make(original, name)
        setattr(owner, name, patched)
        _patches[(owner, name)] = (original, patched)


def _unpatch_all() -> None:
    for (owner, name), (original, patched) in list(_patches.items()):
        # Put the original back only if ours is still the attribute: if
        # another library patched on top of it since, removing ours would
        # remove theirs too. Ours then stays, inert without a recording.
        if owner.__dict__.get(name) is patched:
            setattr(owner, name, original)
            del _patches[(owner, name)]


def _is_djangos(original: Callable[..., Any], method: str) -> bool:
    """Whether ``original`` is Django's own ``Signal.<method>``, not another
    library's patch: its code, not a copied ``__name__``, says so."""
    code = getattr(original, "__code__", None)
    return (
        code is not None
        and code.co_name == method
        and code.co_filename == getattr(dispatcher, "__file__", None)
    )


def _mark(patched: Callable[..., Any], original: Callable[..., Any]) -> None:
    functools.update_wrapper(patched, original)
    setattr(patched, MARK, True)


# ---------------------------------------------------------------------------
# Senders


def _sync_sender(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    robust = method == "send_robust"
    # Django's send*() returns a new [] at once when nothing at all is
    # connected (pre_init and post_init for every model instance, often):
    # answered here, without a second call that re-packs the arguments.
    # Not when another library's patch is underneath: it is called.
    returns_early = _is_djangos(original, method)
    # Over Django's own send(), the patched send runs the sync receivers
    # itself, in Django's order and way (_django_send, _send_stored), instead
    # of a second call that re-packs the arguments and, when recorded, a
    # wrapped _live_receivers(). send_robust(), and any dispatch that has
    # async receivers, still go through the method underneath.
    own_loop = returns_early and not robust

    def send(self: Signal, sender: Any, **named: Any) -> Any:
        scope = current_scope.get()
        if scope is None:
            if returns_early and not self.receivers:
                return []
            if own_loop:
                return _django_send(self, sender, named, original)
            return original(self, sender, **named)
        recorder = scope.recorder
        # Recorder.row_for(), inline: this runs for every dispatch.
        try:
            row = recorder.rows_by_signal[id(self)][id(sender)][0]
        except KeyError:
            row = recorder.new_row(self, sender)
        # Ignored, or a context copied from a recording that has stopped
        # since (new_row() answers None then, and stop() empties the cache).
        if row is None:
            if own_loop:
                return _django_send(self, sender, named, original)
            return original(self, sender, **named)
        if not row.count_only and (self.receivers or not recorder.count_silent):
            # The frame that called this send, if send sites are kept (Python
            # makes frame objects on demand: none is made otherwise).
            caller = sys._getframe(1) if recorder.capture_site else None
            dispatch = recorder.begin(self, method, sender, named, scope, row, caller)
            if dispatch is not None:
                if own_loop:
                    return _send_stored(self, sender, named, dispatch, original)
                return _send_wrapped(self, sender, named, dispatch, original)
        # Counted only: caps reached, or nobody listening. The row is written
        # before post_save runs, raise or not; not part of its time.
        if self is post_save and scope.call is None:
            recorder.note_write(
                named, None, None, row.dispatches >= recorder.max_per_sender
            )
        if not self.receivers:  # nobody listening: Django returns [] at once
            row.dispatches += 1
            row.silent += 1
            return [] if returns_early else original(self, sender, **named)
        # Timed. Recorder.counted(), inline but for failures.
        started = perf_counter()
        try:
            if own_loop:
                responses = _django_send(self, sender, named, original)
            else:
                responses = original(self, sender, **named)
                if type(responses) is not list:  # another patch's send under ours
                    recorder.counted(row, scope, started, responses, robust)
                    return responses
        except BaseException:
            recorder.counted(row, scope, started, None, robust)
            raise
        duration = (perf_counter() - started) * 1000
        row.dispatches += 1
        row.duration_ms += duration
        if responses:
            row.not_stored += 1
            row.receivers_run += len(responses)
            if robust:
                recorder.count_errors(row, responses)
        else:
            row.silent += 1
        if scope.call is None:
            recorder.top_level_ms += duration
        return responses

    _mark(send, original)
    return send


def _django_send(
    signal: Signal, sender: Any, named: dict[str, Any], original: Callable[..., Any]
) -> Any:
    """Django's own ``Signal.send()``, run here, for a dispatch not stored:
    the receivers ``_sync_receivers()`` finds, in order, each called with
    ``signal``, ``sender`` and the arguments, the first error propagating.
    Called with the arguments' dict, not re-packed into a second call.
    """
    receivers = _sync_receivers(signal, sender)
    if receivers is None:  # Django's own way of running async receivers
        try:
            return original(signal, sender, **named)
        finally:
            _found.set(None)
    return _call_receivers(signal, sender, named, receivers)


def _call_receivers(
    signal: Signal, sender: Any, named: dict[str, Any], receivers: list[Any]
) -> list[tuple[Any, Any]]:
    """Each receiver called as Django's ``send()`` calls it, in order."""
    responses = []
    for receiver in receivers:
        responses.append((receiver, receiver(signal=signal, sender=sender, **named)))
    return responses


def _send_stored(
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    dispatch: Dispatch,
    original: Callable[..., Any],
) -> Any:
    """``_django_send()`` for a dispatch that may be stored: each receiver is
    called as Django calls it, timed, with its own scope current (what its
    code dispatches nests under it), without a wrapper object per receiver."""
    recorder = dispatch.scope.recorder
    responses: Any = []
    receivers = None
    try:
        receivers = _sync_receivers(signal, sender)
        calls = _calls(dispatch, receivers, []) if receivers else None
        if calls is None:
            responses = _call_receivers(signal, sender, named, receivers or [])
        else:
            event, parent = dispatch.event, dispatch.scope
            # pre_save of a save with update_fields: what each receiver
            # changes that the save will not write is noted.
            watched = named.get("update_fields") if signal is pre_save else None
            for index, receiver in enumerate(receivers):  # type: ignore[arg-type]
                call = calls[index]
                scope = Scope(recorder, event, index, call, parent)
                arguments = {"signal": signal, "sender": sender, **named}
                if watched:
                    response = _run_watched(scope, call, receiver, arguments)
                else:
                    response = _run_receiver(scope, call, receiver, (), arguments)
                responses.append((receiver, response))
    except BaseException as error:
        _end(recorder, dispatch, error)
        raise
    if receivers is None:  # async receivers: Django runs them, and it ends it
        try:
            return _send_wrapped(signal, sender, named, dispatch, original)
        finally:
            _found.set(None)
    _end(recorder, dispatch)
    return responses


def _send_wrapped(
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    dispatch: Dispatch,
    original: Callable[..., Any],
) -> Any:
    """The method underneath, its receivers wrapped by ``_live_receivers()``."""
    recorder = dispatch.scope.recorder
    if not _may_wrap(type(signal)):
        return _send_counted(signal, sender, named, dispatch, original)
    token = _pending.set(dispatch)
    try:
        responses = original(signal, sender, **named)
    except BaseException as error:
        _end(recorder, dispatch, error)
        raise
    finally:
        _pending.reset(token)
    _end(recorder, dispatch)
    return _original_receivers(responses, dispatch)


def _send_counted(
    signal: Signal,
    sender: Any,
    named: dict[str, Any],
    dispatch: Dispatch,
    original: Callable[..., Any],
) -> Any:
    """The method underneath with the receivers as they are, the dispatch
    counted, not stored: for a Signal subclass whose own code would be handed
    the wrappers (see ``_may_wrap()``)."""
    recorder, robust = dispatch.scope.recorder, dispatch.method.endswith("robust")
    row, scope, started = dispatch.row, dispatch.scope, dispatch.started
    try:
        responses = original(signal, sender, **named)
    except BaseException:
        recorder.counted(row, scope, started, None, robust, unstorable=True)
        raise
    recorder.counted(row, scope, started, responses, robust, unstorable=True)
    return responses


# Signal methods that Django's send*() hands the receivers it calls.
_HANDED_RECEIVERS = ("_live_receivers", "_log_robust_failure")
_wrappable: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def _may_wrap(cls: type) -> bool:
    """Whether receivers may be wrapped for Django's methods on ``cls``: a
    subclass's own ``_live_receivers()`` or ``_log_robust_failure()`` must see
    the receivers themselves (it may pick or name them by identity)."""
    try:
        return _wrappable[cls]
    except (KeyError, TypeError):  # not seen yet, or a class that cannot be hashed
        pass
    may = all(
        getattr(cls, name, None) is getattr(Signal, name, None)
        for name in _HANDED_RECEIVERS
    )
    with contextlib.suppress(TypeError):
        _wrappable[cls] = may
    return may


def _async_sender(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    robust = method == "asend_robust"
    returns_early = _is_djangos(original, method)

    async def asend(self: Signal, sender: Any, **named: Any) -> Any:
        scope = current_scope.get()
        if scope is None:
            if returns_early and not self.receivers:
                return []
            return await original(self, sender, **named)
        recorder = scope.recorder
        row = recorder.row_for(self, sender)
        if row is None:  # ignored, or the recording has stopped since
            return await original(self, sender, **named)
        dispatch = None
        if not row.count_only:
            caller = sys._getframe(1) if recorder.capture_site else None
            dispatch = recorder.begin(self, method, sender, named, scope, row, caller)
        if dispatch is None or not _may_wrap(type(self)):  # counted only
            if dispatch is None:
                # As in send(): the row is written before post_save runs,
                # raise or not; not part of its time.
                if self is post_save and scope.call is None:
                    recorder.note_write(
                        named, None, None, row.dispatches >= recorder.max_per_sender
                    )
                started = perf_counter()
            else:  # as _send_counted()
                started = dispatch.started
            unstorable = dispatch is not None
            try:
                responses = await original(self, sender, **named)
            except BaseException:
                recorder.counted(row, scope, started, None, robust, unstorable)
                raise
            recorder.counted(row, scope, started, responses, robust, unstorable)
            return responses
        token = _pending.set(dispatch)
        try:
            responses = await original(self, sender, **named)
        except BaseException as error:
            _end(recorder, dispatch, error)
            raise
        finally:
            _pending.reset(token)
        _end(recorder, dispatch)
        return _original_receivers(responses, dispatch)

    _mark(asend, original)
    return asend


def _end(
    recorder: Recorder, dispatch: Dispatch, error: BaseException | None = None
) -> None:
    try:
        recorder.end(dispatch, error)
    except Exception:
        recorder.internal_errors += 1


def _original_receivers(responses: Any, dispatch: Dispatch) -> Any:
    """Django's responses with each wrapper replaced by its receiver."""
    kind = type(responses)
    # Anything but Django's list (or a tuple of it, from another library's
    # patch under ours) is handed back untouched rather than consumed.
    if dispatch.event is None or (kind is not list and kind is not tuple):
        return responses
    mapped = [
        (receiver.receiver if isinstance(receiver, _Wrapper) else receiver, response)
        for receiver, response in responses
    ]
    return mapped if kind is list else tuple(mapped)


# ---------------------------------------------------------------------------
# Receivers


# Our patch of ``Signal._live_receivers`` and the method under it, while
# patched: the patched send skips ours when it asks for receivers itself.
_live_patch: Any = None
_live_original: Any = None


def _live_receivers_patch(original: Callable[..., Any], _: str) -> Callable[..., Any]:
    global _live_patch, _live_original

    def _live_receivers(self: Signal, sender: Any) -> Any:
        found = _found.get()
        if found is not None and found[0] is self:
            # The patched send asked already, just before Django's send.
            _found.set(None)
            result = found[1]
        else:
            result = original(self, sender)
        dispatch = _pending.get()
        if dispatch is None or dispatch.signal is not self:
            return result
        _pending.set(None)
        return _wrap_receivers(dispatch, result)

    _mark(_live_receivers, original)
    _live_patch, _live_original = _live_receivers, original
    return _live_receivers


def _sync_receivers(signal: Signal, sender: Any) -> list[Any] | None:
    """The receivers Django's ``send()`` calls for ``sender``, or None when
    some are async (Django's method runs those its own way).

    Django's steps: ``[]`` when nothing is connected, or its cache says
    nobody listens to this sender; else ``_live_receivers(sender)``. When
    that would reach our patch (nothing pending for it to wrap), the method
    under it is called instead; another library's patch, or a subclass's
    override, is called as is. Either way it is called once per dispatch,
    as in Django: with async receivers found, the result is left for our
    patch to hand Django's send (the caller clears it after); a subclass's
    own lookup is not called here when some receiver connected to the signal
    is async (Django's send calls it).
    """
    if not signal.receivers or (
        signal.sender_receivers_cache.get(sender) is NO_RECEIVERS
    ):
        return []
    live = signal._live_receivers
    # Set while patched (this runs only then), so never None here.
    if getattr(live, "__func__", None) is _live_patch:
        found = _live_original(signal, sender)
        receivers, async_receivers = found
        if async_receivers:
            _found.set((signal, found))
            return None
        return receivers
    # The last item of Django's receiver entries says whether it is async.
    if any(entry[-1] for entry in signal.receivers):
        return None
    receivers, async_receivers = live(sender)
    return None if async_receivers else receivers


def _wrap_receivers(dispatch: Dispatch, result: Any) -> Any:
    """``_live_receivers()``'s result, each receiver in its wrapper."""
    recorder = dispatch.scope.recorder
    try:
        sync_receivers, async_receivers = result
        calls = _calls(dispatch, sync_receivers, async_receivers)
        if calls is None:
            return result
        offset = len(sync_receivers)
        return (
            _wrappers(SyncReceiver, dispatch, sync_receivers, calls, 0),
            _wrappers(AsyncReceiver, dispatch, async_receivers, calls, offset),
        )
    except Exception:
        recorder.internal_errors += 1
        return result


def _calls(
    dispatch: Dispatch, receivers: list[Any], async_receivers: list[Any]
) -> list[ReceiverCall] | None:
    """The records of a stored dispatch's receivers (sync ones first), or
    None when it is not stored (they then run as they are). Never raises."""
    recorder = dispatch.scope.recorder
    try:
        return recorder.receivers_found(dispatch, receivers, async_receivers)
    except Exception:
        recorder.internal_errors += 1
        return None


def _wrappers(
    kind: type[_Wrapper],
    dispatch: Dispatch,
    receivers: list[Any],
    calls: list[ReceiverCall],
    offset: int,
) -> list[Any]:
    recorder, event, parent = dispatch.scope.recorder, dispatch.event, dispatch.scope
    return [
        kind(
            receiver,
            calls[offset + index],
            Scope(recorder, event, offset + index, calls[offset + index], parent),
        )
        for index, receiver in enumerate(receivers)
    ]


class _Wrapper:
    """Stands in for one receiver during one dispatch: runs it with its own
    scope current (the scope does not hold the receiver: a context copied
    while it runs must not keep a weakly connected receiver alive).

    Other attribute reads fall through to the receiver, so Django's
    ``receiver.__qualname__`` in ``send_robust``'s log line is unchanged.
    """

    __slots__ = ("call", "receiver", "scope")

    def __init__(
        self, receiver: Callable[..., Any], call: ReceiverCall, scope: Scope
    ) -> None:
        self.receiver = receiver
        self.call = call
        self.scope = scope

    def __getattr__(self, name: str) -> Any:
        return getattr(self.receiver, name)


def _failed(scope: Scope, call: ReceiverCall, error: BaseException) -> None:
    try:
        call.error = describe_exception(error)
    except BaseException:  # e.g. RecursionError right at the limit
        call.error = "error (not describable)"
    scope.recorder.note_failure(error)


class SyncReceiver(_Wrapper):
    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _run_receiver(self.scope, self.call, self.receiver, args, kwargs)


def _run_receiver(
    scope: Scope,
    call: ReceiverCall,
    receiver: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call a sync receiver with ``scope`` current, timed into ``call``."""
    call.ran = True
    token = current_scope.set(scope)
    started = perf_counter()
    call.start_ms = (started - scope.recorder.started) * 1000
    try:
        return receiver(*args, **kwargs)
    except BaseException as error:
        _failed(scope, call, error)
        raise
    finally:
        call.duration_ms += (perf_counter() - started) * 1000
        current_scope.reset(token)


def _run_watched(
    scope: Scope,
    call: ReceiverCall,
    receiver: Callable[..., Any],
    arguments: dict[str, Any],
) -> Any:
    """``_run_receiver()`` for a ``pre_save`` receiver of a save with
    ``update_fields``, noting the fields it changes that the save leaves out
    (a snapshot of the instance's ``__dict__``, kept only while it runs)."""
    instance = arguments.get("instance")
    try:
        before = dict(instance.__dict__)
    except Exception:  # not a model instance as Django makes them
        return _run_receiver(scope, call, receiver, (), arguments)
    response = _run_receiver(scope, call, receiver, (), arguments)
    try:
        call.unsaved = fields_left_unsaved(instance, before, arguments["update_fields"])
    except Exception:
        scope.recorder.internal_errors += 1
    return response


class AsyncReceiver(_Wrapper):
    """Called as Django calls an async receiver: at once, its scope current,
    giving back what the receiver gave (an awaitable is awaited step by step
    with the scope current, timed until it completes)."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call = self.call
        started = perf_counter()
        awaitable = _run_receiver(self.scope, call, self.receiver, args, kwargs)
        if not inspect.isawaitable(awaitable):  # Django's await raises for it
            return awaitable
        call.duration_ms = 0.0  # timed again, until the awaitable completes
        return _Scoped(awaitable, self.scope, call, started)


class _Scoped:
    """Awaits an async receiver's awaitable with its scope current during
    each step, timing it into the receiver's record until it completes.

    Django 6.1 runs parallel async receivers as tasks sharing one context, so
    a receiver setting the scope for its whole run would leak it to the
    others. Setting it around each step (and restoring it before yielding to
    the event loop) keeps every receiver's dispatches under that receiver,
    and leaves the shared context as it found it. The awaitable is awaited by
    ``_awaited()``, so that Python's own rules for ``await`` apply to it.
    """

    __slots__ = ("awaitable", "call", "scope", "started")

    def __init__(
        self,
        awaitable: Awaitable[Any],
        scope: Scope,
        call: ReceiverCall,
        started: float,
    ) -> None:
        self.awaitable = awaitable
        self.scope = scope
        self.call = call
        self.started = started

    def __await__(self) -> Generator[Any, Any, Any]:
        scope, call = self.scope, self.call
        steps = _awaited(self.awaitable).__await__()
        value: Any = None
        error: BaseException | None = None
        closed = False  # by whoever awaits it, not by the receiver
        thrown_in: BaseException | None = None
        try:
            while True:
                token = current_scope.set(scope)
                try:
                    if error is None:
                        yielded = steps.send(value)
                    else:
                        yielded = steps.throw(error)
                except StopIteration as stop:
                    return stop.value
                finally:
                    current_scope.reset(token)
                try:
                    value, error = (yield yielded), None
                except GeneratorExit:
                    closed = True
                    steps.close()
                    raise
                except BaseException as thrown:
                    value, error = None, thrown
                    thrown_in = thrown
        except BaseException as failure:
            # Closed, or cancelled, from outside (a sibling failed and Django's
            # TaskGroup or gather cancelled the rest): not the receiver's error.
            cancelled = isinstance(failure, asyncio.CancelledError) and (
                failure is thrown_in
            )
            if not closed and not cancelled:
                _failed(scope, call, failure)
            raise
        finally:
            call.duration_ms = (perf_counter() - self.started) * 1000


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


# ---------------------------------------------------------------------------
# SQL attributed to receivers


def _query_patch(original: Callable[..., Any], _: str) -> Callable[..., Any]:
    """Count and time the queries a receiver runs, nested ones included.

    ``CursorWrapper.execute()`` and ``executemany()`` both go through
    ``_execute_with_wrappers``, outside the connection's
    ``execute_wrappers``, which stay the user's own.
    """

    def _execute_with_wrappers(
        self: CursorWrapper, sql: Any, params: Any, many: bool, executor: Any
    ) -> Any:
        scope = current_scope.get()
        if scope is None or (scope.call is None and scope.parent is None):
            return original(self, sql, params, many, executor)
        started = perf_counter()
        try:
            return original(self, sql, params, many, executor)
        finally:
            elapsed = (perf_counter() - started) * 1000
            # A receiver's count includes what its nested dispatches ran (and
            # a recording started inside it); the statement is kept by the
            # innermost one, whose own code ran it.
            owner = True
            while scope is not None:
                call = scope.call
                if call is not None:
                    call.queries += 1
                    call.query_ms += elapsed
                    if owner:
                        owner = False
                        if scope.recorder.capture_sql:
                            scope.recorder.keep_sql(call, sql, elapsed, many)
                scope = scope.parent

    _mark(_execute_with_wrappers, original)
    return _execute_with_wrappers


# ---------------------------------------------------------------------------
# Bulk writes that skip the save signals


def _bulk_patch(original: Callable[..., Any], operation: str) -> Callable[..., Any]:
    def bulk_operation(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        scope = current_scope.get()
        if scope is None or not scope.recorder.active or _in_bulk.get():
            return original(self, *args, **kwargs)
        token = _in_bulk.set(True)
        try:
            result = original(self, *args, **kwargs)
        finally:
            _in_bulk.reset(token)
        try:
            rows = len(result) if operation == "bulk_create" else result
            skipped = live_receivers(pre_save, self.model) + live_receivers(
                post_save, self.model
            )
            via = _bulk_origin(sys._getframe(1))
            scope.recorder.note_bypass(operation, self.model, rows, skipped, scope, via)
        except Exception:
            scope.recorder.internal_errors += 1
        return result

    _mark(bulk_operation, original)
    return bulk_operation


# Django's own code that writes rows with QuerySet.update(): deletion's
# on_delete=SET_NULL/SET_DEFAULT/SET(value), and related managers' add(),
# remove(), clear() and set() with bulk=True.
_BULK_CALLERS = {
    os.path.join("django", "db", "models", "deletion.py"): "on_delete",
    os.path.join(
        "django", "db", "models", "fields", "related_descriptors.py"
    ): "related_manager",
}


def _bulk_origin(frame: Any) -> str | None:
    """Which of Django's own callers (``_BULK_CALLERS``) ran a bulk write
    from ``frame``, if one did."""
    path = frame.f_code.co_filename
    for suffix, origin in _BULK_CALLERS.items():
        if path.endswith(suffix):
            return origin
    return None


def live_receivers(signal: Signal, sender: Any) -> list[Any]:
    """The receivers ``signal`` would call for ``sender`` right now, leaving
    the signal's receiver cache as it was (Django fills it only on a send)."""
    if not signal.receivers:
        return []
    cache = signal.sender_receivers_cache
    cached = sender in cache
    sync_receivers, async_receivers = signal._live_receivers(sender)
    if not cached:
        cache.pop(sender, None)
    return [*sync_receivers, *async_receivers]


# ---------------------------------------------------------------------------
# Receivers connected right now (read by wiring.py)


class ReceiverEntry(NamedTuple):
    """One live receiver of a signal, as ``Signal.receivers`` holds it."""

    receiver: Any
    # dispatch_uid, or the receiver's id (Django's lookup key).
    key: Any
    sender_id: int
    # Known only on Django 6.x (its entries keep a weak reference): else None.
    sender: Any
    weak: bool
    is_async: bool


def receiver_entries(signal: Signal) -> list[ReceiverEntry]:
    """Every live receiver of ``signal``, in connection order.

    ``Signal.receivers`` entries are ``(lookup_key, receiver, is_async)`` on
    Django 5.x and ``(lookup_key, receiver, sender_ref, is_async)`` on 6.x;
    the lookup key is ``(dispatch_uid or id(receiver), id(sender))``. A weak
    reference is followed; one whose receiver is gone is left out.
    """
    with signal.lock:
        entries = list(signal.receivers)
    found = []
    for entry in entries:
        (key, sender_id), reference = entry[0], entry[1]
        weak = isinstance(reference, weakref.ReferenceType)
        receiver = reference() if weak else reference
        if receiver is None:
            continue  # garbage-collected, not yet cleaned up
        sender_ref = entry[2] if len(entry) == 4 else None
        sender = sender_ref() if isinstance(sender_ref, weakref.ReferenceType) else None
        found.append(
            ReceiverEntry(receiver, key, sender_id, sender, weak, bool(entry[-1]))
        )
    return found
