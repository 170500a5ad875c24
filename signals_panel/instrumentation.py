"""The one-time patch of Django's dispatcher, and nothing else.

``Signal.send``, ``send_robust``, ``asend`` and ``asend_robust`` are replaced
once (``install()``), chaining to whatever was there before. With no recorder
active in the current context, each costs one ContextVar lookup and a branch.

While a recorder is active, a dispatch leaves a "pending" marker that the
patched ``Signal._live_receivers`` picks up: Django calls it right after its
"no receivers" short-circuit and before calling anyone, so it is the one place
that sees the receivers of this dispatch and can hand back timed wrappers.
``has_listeners()`` also calls ``_live_receivers`` but never has a pending
marker, so query planning (fast deletes, m2m bulk inserts) is untouched.
Responses are mapped back to the original receivers before they reach the
caller.

Django-version differences are confined to this module. All supported
versions (5.2, 6.0, 6.1) return ``(sync_receivers, async_receivers)`` from
``_live_receivers``; 6.1 runs async receivers in a TaskGroup that shares one
context, which is why async wrappers re-establish their scope at every step
of the coroutine instead of relying on ``ContextVar.set`` in a task of their
own.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from django.apps import apps
from django.db import connections
from django.db.models.query import QuerySet
from django.db.models.signals import post_save, pre_save
from django.db.utils import ConnectionHandler
from django.dispatch import Signal
from django.dispatch.dispatcher import NONE_ID

from .describe import describe_callable, describe_exception, describe_sender
from .exceptions import SignalRecursionError
from .recorder import Dispatch, Recorder, Scope, current_scope

MARK = "__signals_panel__"
SEND_METHODS = ("send", "send_robust")
# Writes that send no pre_save/post_save. Their async twins (aupdate...) run
# these through sync_to_async, so patching the sync ones covers both.
BULK_OPERATIONS = ("update", "bulk_create", "bulk_update")
ASEND_METHODS = ("asend", "asend_robust")

_pending: contextvars.ContextVar[Dispatch | None] = contextvars.ContextVar(
    "signals_panel_pending", default=None
)
# Set while a bulk operation runs: bulk_update() calls update() per batch.
_in_bulk: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "signals_panel_in_bulk", default=False
)
_install_lock = threading.Lock()


def install() -> None:
    """Patch the dispatcher once per process; later calls do nothing."""
    with _install_lock:
        if is_installed():
            return
        for method in SEND_METHODS:
            setattr(Signal, method, _sync_sender(getattr(Signal, method), method))
        for method in ASEND_METHODS:
            setattr(Signal, method, _async_sender(getattr(Signal, method), method))
        Signal._live_receivers = _live_receivers_patch(Signal._live_receivers)
        for operation in BULK_OPERATIONS:
            setattr(
                QuerySet,
                operation,
                _bulk_patch(getattr(QuerySet, operation), operation),
            )
        ConnectionHandler.create_connection = _create_connection_patch(
            ConnectionHandler.create_connection
        )
        for connection in connections.all(initialized_only=True):
            _hook_connection(connection)


def is_installed() -> bool:
    return bool(getattr(Signal.send, MARK, False))


def _mark(patched: Callable[..., Any], original: Callable[..., Any]) -> None:
    functools.update_wrapper(patched, original)
    setattr(patched, MARK, True)


# ---------------------------------------------------------------------------
# Senders


def _sync_sender(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    def send(self: Signal, sender: Any, **named: Any) -> Any:
        scope = current_scope.get()
        if scope is None:
            return original(self, sender, **named)
        dispatch = _begin(scope, self, method, sender, named)
        if dispatch is None:
            return original(self, sender, **named)
        token = _pending.set(dispatch)
        try:
            responses = original(self, sender, **named)
        except BaseException as error:
            _end(scope.recorder, dispatch, error)
            raise
        finally:
            _pending.reset(token)
        _end(scope.recorder, dispatch)
        return _original_receivers(responses, dispatch)

    _mark(send, original)
    return send


def _async_sender(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    async def asend(self: Signal, sender: Any, **named: Any) -> Any:
        scope = current_scope.get()
        if scope is None:
            return await original(self, sender, **named)
        dispatch = _begin(scope, self, method, sender, named)
        if dispatch is None:
            return await original(self, sender, **named)
        token = _pending.set(dispatch)
        try:
            responses = await original(self, sender, **named)
        except BaseException as error:
            _end(scope.recorder, dispatch, error)
            raise
        finally:
            _pending.reset(token)
        _end(scope.recorder, dispatch)
        return _original_receivers(responses, dispatch)

    _mark(asend, original)
    return asend


def _begin(
    scope: Scope, signal: Signal, method: str, sender: Any, named: dict[str, Any]
) -> Dispatch | None:
    recorder = scope.recorder
    if not recorder.active:
        return None
    try:
        row = recorder.row_for(signal, sender)
        if row is None:
            return None
        if not signal.receivers and not recorder.list_silent:
            # Django returns [] before looking at receivers; count it only.
            recorder.count_silent(row, signal, named, scope)
            return None
        return recorder.begin(signal, method, sender, named, scope, row)
    except SignalRecursionError:
        raise
    except Exception:
        recorder.internal_errors += 1
        return None


def _end(
    recorder: Recorder, dispatch: Dispatch, error: BaseException | None = None
) -> None:
    try:
        recorder.end(dispatch, error)
    except Exception:
        recorder.internal_errors += 1


def _original_receivers(responses: Any, dispatch: Dispatch) -> Any:
    if dispatch.event is None:
        return responses
    return [
        (receiver.receiver if isinstance(receiver, _Wrapper) else receiver, response)
        for receiver, response in responses
    ]


# ---------------------------------------------------------------------------
# Receivers


def _live_receivers_patch(original: Callable[..., Any]) -> Callable[..., Any]:
    def _live_receivers(self: Signal, sender: Any) -> Any:
        result = original(self, sender)
        dispatch = _pending.get()
        if dispatch is None or dispatch.signal is not self:
            return result
        _pending.set(None)
        return _wrap_receivers(dispatch, result)

    _mark(_live_receivers, original)
    return _live_receivers


def _wrap_receivers(dispatch: Dispatch, result: Any) -> Any:
    recorder = dispatch.scope.recorder
    try:
        sync_receivers, async_receivers = result
        calls = recorder.receivers_found(dispatch, sync_receivers, async_receivers)
        if calls is None:
            return result
        event, parent = dispatch.event, dispatch.scope
        wrapped_sync: list[Any] = [
            SyncReceiver(receiver, Scope(recorder, event, index, calls[index], parent))
            for index, receiver in enumerate(sync_receivers)
        ]
        offset = len(sync_receivers)
        wrapped_async: list[Any] = [
            AsyncReceiver(
                receiver,
                Scope(recorder, event, offset + index, calls[offset + index], parent),
            )
            for index, receiver in enumerate(async_receivers)
        ]
    except Exception:
        recorder.internal_errors += 1
        return result
    return wrapped_sync, wrapped_async


class _Wrapper:
    """Stands in for one receiver during one dispatch.

    Attribute reads fall through to the receiver, so Django's
    ``receiver.__qualname__`` in ``send_robust``'s log line is unchanged.
    """

    __slots__ = ("receiver", "scope")

    def __init__(self, receiver: Callable[..., Any], scope: Scope) -> None:
        self.receiver = receiver
        self.scope = scope

    def __getattr__(self, name: str) -> Any:
        return getattr(self.receiver, name)

    def _failed(self, error: BaseException) -> None:
        call = self.scope.call
        assert call is not None
        try:
            call.error = describe_exception(error)
        except BaseException:  # e.g. RecursionError right at the limit
            call.error = "error (not describable)"


class SyncReceiver(_Wrapper):
    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        scope = self.scope
        call = scope.call
        assert call is not None
        call.ran = True
        token = current_scope.set(scope)
        started = time.perf_counter()
        call.start_ms = (started - scope.recorder.started) * 1000
        try:
            return self.receiver(*args, **kwargs)
        except BaseException as error:
            self._failed(error)
            raise
        finally:
            call.duration_ms += (time.perf_counter() - started) * 1000
            current_scope.reset(token)


class AsyncReceiver(_Wrapper):
    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(args, kwargs)

    async def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        scope = self.scope
        call = scope.call
        assert call is not None
        call.ran = True
        started = time.perf_counter()
        call.start_ms = (started - scope.recorder.started) * 1000
        token = current_scope.set(scope)
        try:
            awaitable = self.receiver(*args, **kwargs)
        finally:
            current_scope.reset(token)
        try:
            return await _Scoped(awaitable, scope)
        except BaseException as error:
            self._failed(error)
            raise
        finally:
            call.duration_ms += (time.perf_counter() - started) * 1000


class _Scoped:
    """Awaits ``awaitable`` with ``scope`` current during each of its steps.

    Django 6.1 runs parallel async receivers as tasks sharing one context, so
    a receiver setting the scope for its whole run would leak it to the
    others. Setting it around each step (and restoring it before yielding to
    the event loop) keeps every receiver's dispatches under that receiver,
    and leaves the shared context as it found it.
    """

    __slots__ = ("awaitable", "scope")

    def __init__(self, awaitable: Awaitable[Any], scope: Scope) -> None:
        self.awaitable = awaitable
        self.scope = scope

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self.awaitable.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            token = current_scope.set(self.scope)
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
                steps.close()
                raise
            except BaseException as thrown:
                value, error = None, thrown


# ---------------------------------------------------------------------------
# SQL attributed to receivers


def _query_hook(
    execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
) -> Any:
    scope = current_scope.get()
    if scope is None or scope.call is None:
        return execute(sql, params, many, context)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        # A receiver's count includes what its nested dispatches ran.
        while scope is not None and scope.call is not None:
            scope.call.queries += 1
            scope.call.query_ms += elapsed
            scope = scope.parent


def _create_connection_patch(original: Callable[..., Any]) -> Callable[..., Any]:
    """Every database connection object gets the query counter when created."""

    def create_connection(self: ConnectionHandler, alias: str) -> Any:
        connection = original(self, alias)
        _hook_connection(connection)
        return connection

    _mark(create_connection, original)
    return create_connection


def _hook_connection(connection: Any) -> None:
    """Put the query counter first in ``execute_wrappers`` (outermost).

    First, so that a user's ``connection.execute_wrapper()`` block, which
    pops the last wrapper on exit, still removes its own. Outside a recording
    it costs one ContextVar lookup per query.
    """
    wrappers = connection.execute_wrappers
    if _query_hook not in wrappers:
        wrappers.insert(0, _query_hook)


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
            scope.recorder.note_bypass(operation, self.model, rows, skipped, scope)
        except Exception:
            scope.recorder.internal_errors += 1
        return result

    _mark(bulk_operation, original)
    return bulk_operation


def live_receivers(signal: Signal, sender: Any) -> list[Any]:
    """The receivers ``signal`` would call for ``sender`` right now."""
    if not signal.receivers:
        return []
    sync_receivers, async_receivers = signal._live_receivers(sender)
    return [*sync_receivers, *async_receivers]


# ---------------------------------------------------------------------------
# Receivers connected right now (the panel's Receivers tab)


def connected_receivers(signal: Signal) -> list[dict[str, Any]]:
    """Every live receiver of ``signal``, in connection order.

    ``Signal.receivers`` entries are ``(lookup_key, receiver, is_async)`` on
    Django 5.x and ``(lookup_key, receiver, sender_ref, is_async)`` on 6.x;
    the lookup key is ``(dispatch_uid or id(receiver), id(sender))``.
    """
    with signal.lock:
        entries = list(signal.receivers)
    senders = _senders_by_id()
    found = []
    for entry in entries:
        (receiver_key, sender_id), reference = entry[0], entry[1]
        weak = isinstance(reference, weakref.ReferenceType)
        receiver = reference() if weak else reference
        if receiver is None:
            continue  # garbage-collected, not yet cleaned up
        sender_ref = entry[2] if len(entry) == 4 else None
        sender = sender_ref() if isinstance(sender_ref, weakref.ReferenceType) else None
        name, where = describe_callable(receiver)
        found.append(
            {
                "receiver": name,
                "where": where,
                "sender": (
                    describe_sender(sender)
                    if sender is not None
                    else senders.get(sender_id, f"object at {hex(sender_id)}")
                ),
                "weak": weak,
                "dispatch_uid": receiver_key if isinstance(receiver_key, str) else None,
                "is_async": bool(entry[-1]),
            }
        )
    return found


def _senders_by_id() -> dict[int, str]:
    """Names for the senders receivers are usually connected to: models."""
    names = {NONE_ID: "any sender"}
    for model in apps.get_models(include_auto_created=True):
        names[id(model)] = model._meta.label
    for config in apps.get_app_configs():
        names[id(config)] = f"app config {config.label}"
    return names
