"""Recording: what one request (or one ``record()`` block) dispatched.

A ``Recorder`` is made active for a context through the ``current_scope``
ContextVar. Instrumentation (``instrumentation.py``) asks it to open an event
per dispatch and to account for each receiver call; the recorder keeps only
JSON-ready data (short strings, numbers), never the objects involved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import os
import sys
import threading
import time
import types
import weakref
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import asgiref
from django.db.models.signals import post_save, pre_init, pre_save
from django.dispatch import Signal, dispatcher
from django.dispatch.dispatcher import NO_RECEIVERS

from .conf import (
    OPTIONS,
    get_config,
    unknown_option_hint,
    validate_option,
    with_defaults,
)
from .describe import (
    Site,
    cut,
    describe_callable,
    describe_exception,
    describe_init_args,
    describe_kwargs,
    describe_receiver,
    describe_sender,
    describe_target,
    describe_value,
    locator,
    model_facts,
    pk_text,
    primary_key,
    signal_names,
    tables_to_labels,
    tables_written,
)
from .detectors import (
    OTHER_SENDERS,
    SEVERITIES,
    Finding,
    find_hazards,
    flag_events,
)
from .exceptions import SignalRecursionError

STATS_VERSION = 1
SAVE_SIGNALS = (pre_save, post_save)
# Row writes and bulk operations kept per recording, for the detectors.
MAX_WRITES = 10_000
_LOGGED = object()
# The origin of a write counted only: no event, no send site.
_NO_ORIGIN: tuple[None, None] = (None, None)
# Senders that cannot be weakly referenced and whose lifetime nobody can
# observe: a recording may hold them.
PLAIN_SENDER_TYPES = (str, int, float, bytes, bool, complex)
# Entries of the (signal, sender) -> row cache a recording keeps at most.
MAX_REMEMBERED_ROWS = 10_000
MAX_BYPASSES = 1_000
# SQL statements kept per receiver call and per recording, and the longest
# text kept of one (the rest of a receiver's statements only counted).
MAX_SQL_PER_RECEIVER = 10
MAX_SQL_PER_RECORDING = 1_000
MAX_SQL_LENGTH = 500
# (signal, sender) rows a recording lists; past it, a signal's dispatches
# from further senders are counted together in one row of that signal.
MAX_SUMMARY_ROWS = 1_000


@dataclass(eq=False, slots=True)
class ReceiverCall:
    """One receiver of one dispatch."""

    name: str
    where: str | None
    kind: str  # function, method, partial, class or object
    is_async: bool
    ran: bool = False
    start_ms: float = 0.0
    duration_ms: float = 0.0
    queries: int = 0
    query_ms: float = 0.0
    error: str | None = None
    # The statements its own code ran (not its nested dispatches'), as
    # (sql, ms, executemany), the first MAX_SQL_PER_RECEIVER of them.
    sql: list[tuple[str, float, bool]] | None = None
    sql_not_kept: int = 0
    # A pre_save receiver of a save with update_fields: the fields it changed
    # that the save does not write.
    unsaved: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "where": self.where,
            "is_async": self.is_async,
            "kind": self.kind,
            "ran": self.ran,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "queries": self.queries,
            "query_ms": round(self.query_ms, 3),
            "sql": [
                {"sql": text, "ms": round(ms, 3), "many": many}
                for text, ms, many in self.sql or ()
            ],
            "sql_not_kept": self.sql_not_kept,
            "unsaved": self.unsaved or [],
            "error": self.error,
        }


@dataclass(eq=False, slots=True)
class Event:
    """One stored dispatch of a signal."""

    id: int
    parent: int | None
    parent_receiver: int | None
    depth: int
    signal: str
    signal_name: str
    method: str
    sender: str
    target: dict[str, str | None] | None
    kwargs: dict[str, str]
    start_ms: float
    duration_ms: float
    receivers: list[ReceiverCall]
    # Innermost non-library frames of the send, formatted only when read.
    frames: list[Site]
    keep_stack: bool
    error: str | None = None
    # The kinds of the findings that name it, once findings are made.
    flags: list[str] | tuple[()] = ()

    @property
    def sent_from(self) -> str | None:
        """``path:line in function`` of the code that sent the signal."""
        return locator.format(self.frames[0]) if self.frames else None

    @property
    def stack(self) -> list[str]:
        """The send site and its callers (``STACK_DEPTH`` > 1), innermost first."""
        if not self.keep_stack:
            return []
        return [locator.format(site) for site in self.frames]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "parent_receiver": self.parent_receiver,
            "depth": self.depth,
            "signal": self.signal,
            "signal_name": self.signal_name,
            "method": self.method,
            "sender": self.sender,
            "target": self.target,
            "kwargs": self.kwargs,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "receivers": [call.to_dict() for call in self.receivers],
            "sent_from": self.sent_from,
            "stack": self.stack,
            "error": self.error,
            "flags": list(self.flags),
        }


@dataclass(eq=False, slots=True)
class SummaryRow:
    """Counts for one (signal, sender) pair, stored or not."""

    signal: str
    signal_name: str
    sender: str
    dispatches: int = 0
    silent: int = 0
    not_stored: int = 0
    receivers_run: int = 0
    errors: int = 0
    duration_ms: float = 0.0
    stored: int = 0
    # Of not_stored: dispatches no cap kept out, stored by no setting (a
    # Signal subclass's own receiver lookup, a ``signal=`` argument).
    unstorable: int = 0
    # Past its cap (or the recording's): the patched send only counts it.
    count_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "signal_name": self.signal_name,
            "sender": self.sender,
            "dispatches": self.dispatches,
            "silent": self.silent,
            "not_stored": self.not_stored,
            "unstorable": self.unstorable,
            "receivers_run": self.receivers_run,
            "errors": self.errors,
            "duration_ms": round(self.duration_ms, 3),
        }


class Scope:
    """Where code is running: which recorder, and inside which receiver call.

    The receiver part is what makes nesting right: a dispatch opened while a
    receiver runs becomes that receiver's child.
    """

    __slots__ = ("call", "event", "parent", "receiver_index", "recorder")

    def __init__(
        self,
        recorder: Recorder,
        event: Event | None = None,
        receiver_index: int | None = None,
        call: ReceiverCall | None = None,
        parent: Scope | None = None,
    ) -> None:
        self.recorder = recorder
        self.event = event
        self.receiver_index = receiver_index
        self.call = call
        self.parent = parent


current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "signals_panel_scope", default=None
)


class Dispatch:
    """The in-flight state of one dispatch while ``Signal.send*`` runs."""

    __slots__ = (
        "caller",
        "event",
        "method",
        "named",
        "receivers",
        "row",
        "scope",
        "sender",
        "signal",
        "started",
    )

    def __init__(
        self,
        signal: Signal,
        method: str,
        sender: Any,
        named: dict[str, Any],
        scope: Scope,
        row: SummaryRow,
        caller: types.FrameType | None,
    ) -> None:
        self.signal = signal
        self.method = method
        self.sender = sender
        self.named: dict[str, Any] | None = named
        self.scope = scope
        self.row = row
        # The frame that called Signal.send*, while the dispatch runs (the
        # send site is looked up from it only if the event is stored).
        self.caller = caller
        self.event: Event | None = None
        self.receivers = 0
        self.started = time.perf_counter()


# Where the dispatch machinery runs: the package, Django's dispatcher, and
# what runs async receivers (asyncio, asgiref, thread pools).
_DISPATCH_CODE = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.abspath(dispatcher.__file__),
    os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep,
    os.path.dirname(os.path.abspath(concurrent.futures.__file__)) + os.sep,
    os.path.dirname(os.path.abspath(asgiref.__file__)) + os.sep,
)


def entered_a_receiver(traceback: TracebackType | None) -> bool:
    """Whether an error that ended a dispatch came from a receiver's code
    (else Django raised before calling one: a bad argument, an unhashable
    sender). Looks at the first frames past the dispatch machinery only."""
    for _ in range(20):
        if traceback is None:
            return False
        path = traceback.tb_frame.f_code.co_filename
        if not os.path.abspath(path).startswith(_DISPATCH_CODE):
            return True
        traceback = traceback.tb_next
    return True


# The patched Signal.send/asend (instrumentation.py): every dispatch in a
# recording runs one.
_PATCHED_SEND = (
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "instrumentation.py"),
    ("send", "asend"),
)
# Frames looked at below where an error was caught.
MAX_FAILURE_FRAMES = 200


def _passed_up(traceback: TracebackType | None) -> bool:
    """Whether an error, caught where ``traceback`` starts, was raised inside
    a dispatch sent from further down that counted it as its own: one this
    recording does not ignore (its ``row``), which the error left through
    its receivers (``SignalRecursionError`` from ``begin()`` is counted where
    it is raised)."""
    filename, names = _PATCHED_SEND
    traceback = traceback.tb_next if traceback is not None else None
    for _ in range(MAX_FAILURE_FRAMES):
        if traceback is None:
            return False
        frame = traceback.tb_frame
        code = frame.f_code
        if (
            code.co_name in names
            and os.path.abspath(code.co_filename) == filename
            and frame.f_locals.get("row") is not None
        ):
            return True
        traceback = traceback.tb_next
    return False


def _nobody_listens(signal: Signal, sender: Any) -> bool:
    """Django's own test for a dispatch that calls no receiver."""
    if not signal.receivers:
        return True
    if not signal.use_caching:
        return False
    try:
        return signal.sender_receivers_cache.get(sender) is NO_RECEIVERS
    except Exception:  # an unhashable sender: Django's send raises it
        return False


def _same_row(one: dict[str, Any], other: dict[str, Any]) -> bool:
    if one["object"] == other["object"] and one["db"] == other["db"]:
        return True
    return one["pk"] is not None and (
        one["concrete_model"],
        one["db"],
        one["pk"],
    ) == (other["concrete_model"], other["db"], other["pk"])


class Recorder:
    """Collects the dispatches of one request or one ``record()`` block."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config if config is not None else get_config()
        self.max_events: int = self.config["MAX_EVENTS"]
        self.max_per_sender: int = self.config["MAX_EVENTS_PER_SENDER"]
        self.value_limit: int = self.config["MAX_VALUE_LENGTH"]
        self.capture_site: bool = self.config["CAPTURE_SEND_SITE"]
        self.stack_depth: int = self.config["STACK_DEPTH"]
        self.list_silent: bool = self.config["LIST_SILENT_DISPATCHES"]
        self.raise_on_recursion: int | None = self.config["RAISE_ON_RECURSION"]
        self.capture_sql: bool = self.config["CAPTURE_SQL"]
        self._sql_kept = 0
        # Whether the patched send may only count a dispatch nobody listens
        # to, or one past its cap, without asking begin().
        self.count_silent = not self.list_silent and not self.raise_on_recursion
        self.may_count_only = not self.raise_on_recursion
        # Writes of rows written more than once (what repeated_save reads):
        # (concrete model, db, pk, event id, send site), in the order found.
        self.writes: list[tuple[str, str | None, str, int | None, Site | None]] = []
        # (table, db, pk) -> (event id, send site) of the row's first write
        # while it is the only one; _LOGGED once it is in self.writes.
        self._rows_written: dict[tuple[str, str | None, Any], Any] = {}
        self.bypasses: list[dict[str, Any]] = []
        self.ignore_senders = tuple(self.config["IGNORE_SENDERS"])
        self.ignore_signals = tuple(self.config["IGNORE_SIGNALS"])
        self.ignore_receivers = tuple(self.config["IGNORE_RECEIVERS"])
        self.active = False
        # What it covers, as findings say it: "request" for the panel's.
        self.unit = "recording"
        self.started = time.perf_counter()
        self.duration_ms = 0.0
        self.events: list[Event] = []
        self.rows: dict[tuple[str, str], SummaryRow] = {}
        # id(signal) -> {id(sender): (row, what keeps the entry honest)}: two
        # lookups by int, cheaper in a dispatch than one by a pair of ids.
        # An entry lives only as long as both objects: weak references with
        # callbacks drop it when either goes, before its id can be reused, so
        # a hit needs no check. Plain values (None, str, int...) cannot be
        # weakly referenced and have no lifetime to observe: the entry holds
        # them. Cleared at stop.
        self.rows_by_signal: dict[int, dict[int, tuple[Any, Any]]] = {}
        self._signal_references: dict[int, weakref.ref[Any]] = {}
        self._remembered = 0
        # Time in dispatches not sent from inside a receiver: the wall time
        # signals added to the request, without counting nested ones twice.
        self.top_level_ms = 0.0
        self.internal_errors = 0
        # Receiver errors, each exception once however many receivers and
        # dispatches it passed up through.
        self.failures = 0
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        self.started = time.perf_counter()
        self.active = True

    def stop(self) -> None:
        if self.active:
            self.duration_ms = (time.perf_counter() - self.started) * 1000
        self.active = False
        self.rows_by_signal.clear()
        self._signal_references.clear()
        self._remembered = 0
        self._rows_written.clear()

    # -- accounting, called by the instrumentation -------------------------

    def row_for(self, signal: Signal, sender: Any) -> SummaryRow | None:
        """The summary row of (signal, sender), or None if it is ignored."""
        try:
            row: SummaryRow | None = self.rows_by_signal[id(signal)][id(sender)][0]
        except KeyError:
            row = self.new_row(signal, sender)
        return row

    def new_row(self, signal: Signal, sender: Any) -> SummaryRow | None:
        """``row_for()`` when (signal, sender) is not in the identity cache;
        None also when the recording is not active (the cache is empty then:
        a hit needs no check)."""
        if not self.active:
            return None
        signal_label, signal_name = signal_names.name(signal)
        sender_label = describe_sender(sender)
        row: SummaryRow | None
        if sender_label.startswith(self.ignore_senders) or signal_label.startswith(
            self.ignore_signals
        ):
            row = None
        else:
            key = (signal_label, sender_label)
            if key not in self.rows and len(self.rows) >= MAX_SUMMARY_ROWS:
                key = (signal_label, OTHER_SENDERS)
            row = self.rows.get(key)
            if row is None:
                row = SummaryRow(signal_label, signal_name, key[1])
                row.count_only = (
                    self.may_count_only and len(self.events) >= self.max_events
                )
                self.rows[key] = row
        if self._remembered < MAX_REMEMBERED_ROWS:
            self._remember_row(signal, sender, row)
            if not self.active:  # stopped meanwhile, from another thread
                self.rows_by_signal.clear()
        return row

    def _remember_row(self, signal: Signal, sender: Any, row: Any) -> None:
        signal_id, sender_id = id(signal), id(sender)
        by_signal = self.rows_by_signal
        senders = by_signal.get(signal_id)
        if senders is None:
            references = self._signal_references

            def forget_signal(_: weakref.ref[Any]) -> None:
                gone = by_signal.pop(signal_id, None)
                references.pop(signal_id, None)
                if gone:
                    self._remembered -= len(gone)

            try:
                references[signal_id] = weakref.ref(signal, forget_signal)
            except TypeError:
                return  # a signal that cannot be weakly referenced
            senders = by_signal[signal_id] = {}

        def forget_sender(_: weakref.ref[Any]) -> None:
            # Not counted again if its signal's entries went first.
            if senders.pop(sender_id, None) is not None and (
                by_signal.get(signal_id) is senders
            ):
                self._remembered -= 1

        if sender is None or type(sender) in PLAIN_SENDER_TYPES:
            held: Any = sender
        else:
            try:
                held = weakref.ref(sender, forget_sender)
            except TypeError:
                return  # neither weakly referenceable nor a plain value
        senders[sender_id] = (row, held)
        self._remembered += 1

    def counted(
        self,
        row: SummaryRow,
        scope: Scope,
        started: float,
        responses: list[tuple[Any, Any]] | None,
        robust: bool,
        unstorable: bool = False,
    ) -> None:
        """Account for a dispatch that ran without being stored.

        ``responses`` is what Django returned, or None if the dispatch raised
        (then called while the error is handled: its traceback tells whether
        a receiver ran). ``unstorable``: no setting would have stored it (not
        a cap's doing). Never raises: it runs between Django's send and its
        caller.
        """
        try:
            duration = (time.perf_counter() - started) * 1000
            row.dispatches += 1
            row.duration_ms += duration
            if scope.call is None:
                self.top_level_ms += duration
            if not responses:
                if responses is None:
                    row.not_stored += 1
                    row.unstorable += unstorable
                    row.errors += 1
                    error = sys.exc_info()[1]
                    self.note_failure(error)
                    if error is not None and entered_a_receiver(error.__traceback__):
                        row.receivers_run += 1
                else:
                    row.silent += 1
                return
            row.not_stored += 1
            row.unstorable += unstorable
            row.receivers_run += len(responses)
            if robust:
                self.count_errors(row, responses)
        except Exception:
            self.internal_errors += 1

    def note_failure(self, error: BaseException | None) -> None:
        """Count a receiver's error for the total, unless it came out of a
        dispatch sent further down (that one counted it)."""
        if error is not None and not _passed_up(error.__traceback__):
            self.failures += 1

    def count_errors(self, row: SummaryRow, responses: list[tuple[Any, Any]]) -> None:
        """Count the receivers ``send_robust()`` caught an error from."""
        try:
            for _, response in responses:
                if isinstance(response, Exception):
                    row.errors += 1
                    self.note_failure(response)
        except Exception:  # not Django's list of pairs
            self.internal_errors += 1

    def note_write(
        self,
        named: dict[str, Any],
        event: Event | None,
        caller: types.FrameType | None,
        past_cap: bool = False,
    ) -> None:
        """Log one write (a post_save) made outside any receiver.

        Writes from receivers are the receivers' design (a tree saving its
        parent); the cycle detectors judge those from the event tree. A
        row's first write is held aside; ``writes`` gets it with the second.

        The send site is the event's, or found from ``caller``, the frame
        that sent post_save; None: the caller of the patched send that calls
        this, looked up here only if needed. ``past_cap``: the post_save's
        (signal, sender) row has had its MAX_EVENTS_PER_SENDER dispatches,
        and, as for its dispatches, less is kept: the site only when the
        write repeats a row written before. Never raises.
        """
        try:
            instance: Any = named.get("instance")
            model = model_facts(type(instance))
            if model is None:
                return
            pk = primary_key(instance, model.pk_attname)
            if pk is None:  # not saved: no row to name
                return
            db = instance._state.db
            rows = self._rows_written
            # Its own table's row, then (a multi-table child) its ancestors'.
            tables = model.rows
            if model.fields is not None:
                tables = tables_written(model, named)
            for table, label in tables:
                written = (table, db, pk)
                try:
                    first = rows.get(written)
                except TypeError:  # a primary key value that cannot be hashed
                    written = (table, db, str(pk))
                    first = rows.get(written)
                if first is None:  # the row's first write: held aside
                    if len(rows) < MAX_WRITES:
                        rows[written] = (
                            self._origin(event, caller)
                            if event is not None or not past_cap
                            else _NO_ORIGIN
                        )
                elif len(self.writes) < MAX_WRITES:
                    row = (label, db, pk_text(written[2]))
                    self._log_again(written, first, row, self._origin(event, caller))
        except Exception:
            self.internal_errors += 1

    def _log_again(
        self,
        written: tuple[str, str | None, Any],
        first: Any,
        row: tuple[str, str | None, str],
        origin: tuple[int | None, Site | None],
    ) -> None:
        """Log a write of a row written before (its first write, held aside
        as ``first``, is logged with the second)."""
        if first is not _LOGGED:
            self.writes.append((*row, *first))
            self._rows_written[written] = _LOGGED
        self.writes.append((*row, *origin))

    def _origin(
        self, event: Event | None, caller: types.FrameType | None
    ) -> tuple[int | None, Site | None]:
        """(event id, send site) of a write, for ``note_write()``."""
        if event is not None:
            return event.id, event.frames[0] if event.frames else None
        if not self.capture_site:
            return _NO_ORIGIN
        # Frames: 0 this method, 1 note_write(), 2 the patched send, 3 its caller.
        return None, locator.first_site(
            caller if caller is not None else sys._getframe(3)
        )

    def keep_sql(self, call: ReceiverCall, sql: Any, ms: float, many: bool) -> None:
        """Keep a statement a receiver's own code ran (its text only: the
        parameters may hold secrets). Never raises: it runs after the query."""
        try:
            kept = call.sql
            if kept is None:
                kept = call.sql = []
            if (
                len(kept) >= MAX_SQL_PER_RECEIVER
                or self._sql_kept >= MAX_SQL_PER_RECORDING
            ):
                call.sql_not_kept += 1
                return
            # Text as the database gets it, or (a composed statement object)
            # described without running its code.
            text = sql if type(sql) is str else describe_value(sql, MAX_SQL_LENGTH)
            kept.append((cut(text, MAX_SQL_LENGTH), ms, bool(many)))
            self._sql_kept += 1
        except Exception:
            self.internal_errors += 1

    def note_bypass(
        self,
        operation: str,
        model: type,
        rows: int | None,
        skipped: list[Any],
        scope: Scope,
        via: str | None = None,
    ) -> None:
        """A bulk write that sends no pre_save/post_save (update, bulk_create...);
        ``via``: Django's own code that made it ("on_delete", "related_manager")."""
        if len(self.bypasses) >= MAX_BYPASSES:
            return
        meta = model._meta  # type: ignore[attr-defined]
        # An auto-created m2m table's rows never send pre_save/post_save
        # (m2m_changed tells of them): nothing is bypassed.
        if meta.auto_created or meta.label.startswith(self.ignore_senders):
            return
        site = locator.send_site(sys._getframe()) if self.capture_site else []
        receivers = {
            name: where
            for name, where in map(describe_callable, skipped)
            if not name.startswith(self.ignore_receivers)
        }
        self.bypasses.append(
            {
                "operation": operation,
                "model": meta.label,
                "concrete_model": meta.concrete_model._meta.label,
                "rows": rows,
                "site": site[0] if site else None,
                # The receivers' names, in connection order, and their file:line.
                "skipped": list(receivers),
                "skipped_where": list(receivers.values()),
                "inside": scope.event.id if scope.event is not None else None,
                "via": via,
            }
        )

    def begin(
        self,
        signal: Signal,
        method: str,
        sender: Any,
        named: dict[str, Any],
        scope: Scope,
        row: SummaryRow,
        caller: types.FrameType | None,
    ) -> Dispatch | None:
        """Start a dispatch the patched send could not simply count.

        ``row`` is its (signal, sender) row, ``caller`` the frame that called
        ``Signal.send*`` (None without send sites). None: only counted, run it
        through ``counted()`` (nobody listening, or caps reached). A
        ``Dispatch``: may become a stored event; ``end()`` closes it. Raises
        only ``SignalRecursionError`` (``RAISE_ON_RECURSION``): it runs
        between the caller and Django's send.
        """
        try:
            if "signal" in named:
                # Django's call of each receiver fails on it (two values for
                # one argument): left to Django's own call, counted.
                if not _nobody_listens(signal, sender):
                    row.unstorable += 1
                return None
            if self.raise_on_recursion:
                if signal in SAVE_SIGNALS:
                    self._check_recursion(named, scope)
                # Otherwise a row at a cap is flagged count_only and its
                # dispatches do not get here (receivers_found() checks the
                # caps again, for one that raced another thread's).
                if (
                    row.stored >= self.max_per_sender
                    or len(self.events) >= self.max_events
                ):
                    return None
            # Only a row found silent before is worth Django's own test (a
            # signal with receivers for other senders): most never are.
            if row.silent and not self.list_silent and _nobody_listens(signal, sender):
                return None
            return Dispatch(signal, method, sender, named, scope, row, caller)
        except SignalRecursionError:
            raise
        except Exception:
            self.internal_errors += 1
            return None

    def _check_recursion(self, named: dict[str, Any], scope: Scope) -> None:
        """Raise SignalRecursionError when this save is too many levels deep."""
        target = describe_target(named.get("instance"), named.get("using"), named)
        if target is None:
            return
        chain: list[str] = []
        current: Scope | None = scope
        while current is not None:
            event = current.event
            if (
                event is not None
                and event.signal_name in ("pre_save", "post_save")
                and event.target is not None
                and _same_row(event.target, target)
                and current.call is not None
            ):
                chain.append(f"{event.signal_name} → {current.call.name}")
            current = current.parent
        limit = self.raise_on_recursion
        if limit is not None and len(chain) > limit:
            label = (
                target["model"]
                if target["pk"] is None
                else (f"{target['model']} pk={target['pk']}")
            )
            steps = " → save() → ".join(reversed(chain))
            # It leaves through the receivers above as theirs: counted once, here.
            self.failures += 1
            raise SignalRecursionError(
                f"{label} is being saved {len(chain)} levels deep inside its "
                f"own save signals: {steps} → save(). Stopped by "
                f"SIGNALS_PANEL['RAISE_ON_RECURSION'] = {limit}."
            )

    def receivers_found(
        self, dispatch: Dispatch, receivers: list[Any], async_receivers: list[Any]
    ) -> list[ReceiverCall] | None:
        """Open the event of a dispatch that has receivers, if it may be stored.

        Returns the receiver records to wrap the receivers with, or None when
        the event is not stored (its receivers then run unwrapped and its
        children attach to the nearest stored ancestor).
        """
        dispatch.receivers = len(receivers) + len(async_receivers)
        if not dispatch.receivers:
            return None
        row = dispatch.row
        if len(self.events) >= self.max_events or row.stored >= self.max_per_sender:
            row.not_stored += 1
            return None
        calls = [ReceiverCall(*describe_receiver(each), False) for each in receivers]
        if async_receivers:
            calls += [
                ReceiverCall(*describe_receiver(each), True) for each in async_receivers
            ]
        ignored = self.ignore_receivers
        for call in calls:
            if not call.name.startswith(ignored):
                break
        else:
            # Only the toolbar's own receivers (its templates panel listens
            # to template_rendered): counted, not shown.
            dispatch.receivers = 0
            return None
        dispatch.event = self._open_event(dispatch, calls)
        return calls

    def end(self, dispatch: Dispatch, error: BaseException | None = None) -> None:
        duration = (time.perf_counter() - dispatch.started) * 1000
        row = dispatch.row
        row.dispatches += 1
        row.duration_ms += duration
        if dispatch.scope.call is None:
            self.top_level_ms += duration
        event = dispatch.event
        if not dispatch.receivers:
            row.silent += 1
            if self.list_silent and len(self.events) < self.max_events:
                event = self._open_event(dispatch, [])
        if (
            dispatch.signal is post_save
            and dispatch.named is not None
            and dispatch.scope.call is None
        ):
            self.note_write(dispatch.named, event, dispatch.caller)
        if event is not None:
            event.duration_ms = duration
            for call in event.receivers:
                if call.ran:
                    row.receivers_run += 1
                if call.error:
                    row.errors += 1
            if error is not None:
                event.error = describe_exception(error)
        else:
            # Not stored: its receivers ran unwrapped; count them all, or
            # note the failure that stopped the dispatch.
            row.receivers_run += dispatch.receivers
            if error is not None:
                row.errors += 1
                self.note_failure(error)
        dispatch.named = None
        dispatch.caller = None

    def _open_event(self, dispatch: Dispatch, calls: list[ReceiverCall]) -> Event:
        named = dispatch.named or {}
        instance = named.get("instance")
        target = (
            describe_target(instance, named.get("using"), named)
            if instance is not None
            else None
        )
        kwargs = describe_kwargs(
            named, "instance" if target is not None else None, self.value_limit
        )
        if dispatch.signal is pre_init and "args" in kwargs:
            kwargs["args"] = describe_init_args(
                dispatch.sender, named["args"], named.get("kwargs"), self.value_limit
            )
        frames = (
            locator.frames(dispatch.caller, self.stack_depth)
            if dispatch.caller is not None
            else []
        )
        scope = dispatch.scope
        parent = scope.event
        row = dispatch.row
        sender = row.sender
        if sender is OTHER_SENDERS:  # the row of senders past the rows' cap
            sender = describe_sender(dispatch.sender)
        with self._lock:
            # Positional (id, parent, parent_receiver, depth, signal,
            # signal_name, method, sender, target, kwargs, start_ms,
            # duration_ms, receivers, frames, keep_stack): once per event.
            event = Event(
                len(self.events),
                parent.id if parent is not None else None,
                scope.receiver_index,
                parent.depth + 1 if parent is not None else 0,
                row.signal,
                row.signal_name,
                dispatch.method,
                sender,
                target,
                kwargs,
                (dispatch.started - self.started) * 1000,
                0.0,
                calls,
                frames,
                self.stack_depth > 1,
            )
            self.events.append(event)
            row.stored += 1
            if self.may_count_only:
                if len(self.events) >= self.max_events:
                    for each in self.rows.values():
                        each.count_only = True
                elif row.stored >= self.max_per_sender:
                    row.count_only = True
        return event

    # -- nested recordings -------------------------------------------------

    def absorb(self, inner: Recorder, scope: Scope) -> None:
        """Take in what ``inner`` recorded: a recording started inside this
        one's, in a context where ``scope`` was current, so that its block's
        dispatches are this recording's too.

        Its events are appended, renumbered, under ``scope``'s event and
        receiver, as far as this recording's caps allow (one past a cap is
        counted, and its children go under its parent); its counts add to
        this recording's rows; its writes join the write log (unless its
        block ran inside a receiver, whose writes are not logged) and its
        bulk writes the bypasses.
        """
        if inner is self:
            return
        with self._lock:
            self._absorb(inner, scope)

    def _absorb(self, inner: Recorder, scope: Scope) -> None:
        offset_ms = (inner.started - self.started) * 1000
        # What this recording's own settings leave out stays out.
        rows = {
            key: self._absorbed_row(row)
            for key, row in inner.rows.items()
            if not key[0].startswith(self.ignore_signals)
            and not key[1].startswith(self.ignore_senders)
        }
        new_ids: dict[int, int] = {}
        # Inner event id -> (parent id, parent receiver, depth) here: where
        # the event went, or where its children go if it was not kept.
        places: dict[int, tuple[int | None, int | None, int]] = {}
        parent = scope.event
        top = (
            parent.id if parent is not None else None,
            scope.receiver_index,
            parent.depth + 1 if parent is not None else 0,
        )
        ignored = self.ignore_receivers
        for event in inner.events:
            if event.parent is None:
                place = top
            elif event.parent in new_ids:
                depth = places[event.parent][2] + 1
                place = (new_ids[event.parent], event.parent_receiver, depth)
            else:
                place = places[event.parent]
            places[event.id] = place
            row = rows.get((event.signal, event.sender)) or rows.get(
                (event.signal, OTHER_SENDERS)
            )
            if row is None:  # ignored here
                continue
            if not event.receivers:
                if not self.list_silent:  # counted in its row already
                    continue
            elif all(call.name.startswith(ignored) for call in event.receivers):
                continue
            if len(self.events) >= self.max_events or row.stored >= self.max_per_sender:
                row.not_stored += 1
                continue
            new_ids[event.id] = len(self.events)
            self.events.append(
                dataclasses.replace(
                    event,
                    id=len(self.events),
                    parent=place[0],
                    parent_receiver=place[1],
                    depth=place[2],
                    start_ms=event.start_ms + offset_ms,
                    receivers=[
                        self._absorbed_call(call, offset_ms) for call in event.receivers
                    ],
                    flags=(),
                )
            )
            row.stored += 1
        if self.may_count_only:
            full = len(self.events) >= self.max_events
            for row in self.rows.values():
                row.count_only = full or row.stored >= self.max_per_sender
        if scope.call is None:
            self.top_level_ms += inner.top_level_ms
            self._absorb_writes(inner, new_ids)
        self.internal_errors += inner.internal_errors
        self.failures += inner.failures
        for bypass in inner.bypasses[: MAX_BYPASSES - len(self.bypasses)]:
            # Inside the event it ran in, or where that one's children went.
            inside = bypass["inside"]
            if inside in new_ids:
                inside = new_ids[inside]
            else:
                inside = places.get(inside, top)[0]
            self.bypasses.append({**bypass, "inside": inside})

    def _absorbed_call(self, call: ReceiverCall, offset_ms: float) -> ReceiverCall:
        """A receiver record of an inner recording, on this one's clock, its
        SQL under this one's CAPTURE_SQL and cap."""
        sql, not_kept = call.sql, call.sql_not_kept
        if not self.capture_sql:
            sql, not_kept = None, 0
        elif sql:
            room = max(MAX_SQL_PER_RECORDING - self._sql_kept, 0)
            sql, not_kept = sql[:room], not_kept + max(len(sql) - room, 0)
            self._sql_kept += len(sql)
        return dataclasses.replace(
            call, start_ms=call.start_ms + offset_ms, sql=sql, sql_not_kept=not_kept
        )

    def _absorbed_row(self, inner: SummaryRow) -> SummaryRow:
        """This recording's row for ``inner``'s (signal, sender), its counts
        added (``stored`` counts what ``absorb()`` keeps)."""
        key = (inner.signal, inner.sender)
        if key not in self.rows and len(self.rows) >= MAX_SUMMARY_ROWS:
            key = (inner.signal, OTHER_SENDERS)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = SummaryRow(inner.signal, inner.signal_name, key[1])
        row.dispatches += inner.dispatches
        row.silent += inner.silent
        row.not_stored += inner.not_stored
        row.unstorable += inner.unstorable
        row.receivers_run += inner.receivers_run
        row.errors += inner.errors
        row.duration_ms += inner.duration_ms
        return row

    def _absorb_writes(self, inner: Recorder, new_ids: dict[int, int]) -> None:
        """``inner``'s writes, row by row, as if this recording had seen them."""
        labels = tables_to_labels()
        # The writes of rows written more than once, by row as logged.
        logged: dict[tuple[str, str | None, str], list[Any]] = {}
        for model, db, pk, event_id, site in inner.writes:
            logged.setdefault((model, db, pk), []).append((model, event_id, site))
        mine = self._rows_written
        for written, held in inner._rows_written.items():
            table, db, pk = written
            # Models that share a table write the same rows.
            names = labels.get(table) or [table]
            text = pk_text(pk)
            if held is _LOGGED:
                writes = [w for name in names for w in logged.get((name, db, text), [])]
            else:
                writes = [(names[0], *held)]
            for label, event_id, site in writes:
                origin = (new_ids.get(event_id) if event_id is not None else None, site)
                first = mine.get(written)
                if first is None:
                    if len(mine) < MAX_WRITES:
                        mine[written] = origin
                elif len(self.writes) < MAX_WRITES:
                    self._log_again(written, first, (label, db, text), origin)

    # -- results -----------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        rows = self.rows.values()
        # Receivers of dispatches not sent from a receiver: their time and
        # queries include everything nested, so this does not count twice.
        ignored = self.ignore_receivers
        outer = [
            call
            for event in self.events
            if event.parent is None
            for call in event.receivers
            if not call.name.startswith(ignored)
        ]
        not_stored = sum(row.not_stored for row in rows)
        unstorable = sum(row.unstorable for row in rows)
        return {
            "dispatches": sum(row.dispatches for row in rows),
            "stored": len(self.events),
            "not_stored": not_stored,
            # Of not_stored: what no cap kept out ("truncated": what caps did).
            "unstorable": unstorable,
            "truncated": not_stored - unstorable,
            "silent": sum(row.silent for row in rows),
            "receivers_run": sum(row.receivers_run for row in rows),
            # One error that passed up through receivers that sent each
            # other's dispatches is one error (each row still counts it).
            "receiver_errors": self.failures,
            "dispatch_ms": round(self.top_level_ms, 3),
            "receiver_ms": round(sum(call.duration_ms for call in outer), 3),
            "receiver_queries": sum(call.queries for call in outer),
            "receiver_query_ms": round(sum(call.query_ms for call in outer), 3),
            "request_ms": round(self.duration_ms, 3),
            "internal_errors": self.internal_errors,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready stats: flat events, the per-signal table, totals."""
        rows = sorted(
            self.rows.values(),
            key=lambda row: (-row.dispatches, row.signal, row.sender),
        )
        events = [event.to_dict() for event in self.events]
        _leave_out_ignored_receivers(events, self.ignore_receivers)
        return {
            "version": STATS_VERSION,
            "unit": self.unit,
            "events": events,
            "signals": [row.to_dict() for row in rows],
            "writes": [
                {
                    "model": model,
                    "db": db,
                    "pk": pk,
                    "event": event,
                    "site": None if site is None else locator.format(site),
                }
                for model, db, pk, event, site in self.writes
            ],
            "bypasses": self.bypasses,
            "summary": self.summary(),
            "limits": {
                "max_events": self.max_events,
                "max_events_per_sender": self.max_per_sender,
                "list_silent": self.list_silent,
            },
        }


def _leave_out_ignored_receivers(
    events: list[dict[str, Any]], ignored: tuple[str, ...]
) -> None:
    """Take the receivers named by ``IGNORE_RECEIVERS`` (the toolbar's own)
    out of the events' receiver lists, where a user's receiver of the same
    dispatch got them stored; the children's ``parent_receiver`` follow."""
    if not ignored:
        return
    # Event id -> new index of each old one (None: left out). A parent comes
    # before its children.
    moved: dict[int, list[int | None]] = {}
    for data in events:
        parent = data["parent"]
        if parent in moved and data["parent_receiver"] is not None:
            data["parent_receiver"] = moved[parent][data["parent_receiver"]]
        receivers = data["receivers"]
        if not any(call["name"].startswith(ignored) for call in receivers):
            continue
        kept: list[dict[str, Any]] = []
        indexes: list[int | None] = []
        for call in receivers:
            if call["name"].startswith(ignored):
                indexes.append(None)
            else:
                indexes.append(len(kept))
                kept.append(call)
        data["receivers"] = kept
        moved[data["id"]] = indexes


class Recording:
    """Records every signal dispatched inside a ``with`` (or ``async with``) block.

    Use ``signals_panel.record()``::

        with signals_panel.record() as recording:
            Post.objects.create(title="hi")
        [event.signal_name for event in recording.events]  # ["pre_save", "post_save"]
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.recorder = Recorder(config)
        self._token: contextvars.Token[Scope | None] | None = None
        # Computed once the recording has stopped: nothing changes after that.
        self._findings: list[Finding] | None = None
        # Whether this recording holds the dispatcher patches in place.
        self._patched = False
        # The scope this recording was started in, if another was recording.
        self._outer: Scope | None = None

    @property
    def events(self) -> list[Event]:
        return self.recorder.events

    @property
    def summary(self) -> dict[str, Any]:
        """Totals, as the panel shows them, with the findings' count by
        severity (``hazards``)."""
        summary = self.recorder.summary()
        summary["hazards"] = _by_severity(self.findings)
        return summary

    def dispatches(
        self, signal_name: str | None = None, sender: str | None = None
    ) -> list[Event]:
        """Stored events, optionally only of one signal name and/or sender."""
        return [
            event
            for event in self.recorder.events
            if (signal_name is None or event.signal_name == signal_name)
            and (sender is None or event.sender == sender)
        ]

    @property
    def findings(self) -> list[Finding]:
        """The hazards found in what was recorded, most severe first."""
        if self._findings is not None:
            return list(self._findings)
        findings = [Finding.from_dict(data) for data in self.to_dict()["findings"]]
        if not self.recorder.active:
            self._findings = findings
        return list(findings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready stats with findings, as the panel stores them."""
        stats = self.recorder.to_dict()
        findings = find_hazards(stats)
        flag_events(stats, findings)
        for event, data in zip(self.recorder.events, stats["events"], strict=True):
            event.flags = list(data["flags"])
        stats["findings"] = [finding.to_dict() for finding in findings]
        stats["summary"]["hazards"] = _by_severity(findings)
        return stats

    def start(self) -> None:
        from .instrumentation import acquire

        if not self._patched:
            acquire()
            self._patched = True
        self._findings = None
        self.recorder.start()
        # Inside another recording (a request the toolbar shows, a test's
        # fixture): its block is also the other's, which takes in what this
        # one recorded when it stops, and its queries count for the receiver
        # the block runs in.
        outer = current_scope.get()
        if outer is None or outer.recorder is not self.recorder:  # not a restart
            self._outer = outer if outer is not None and outer.recorder.active else None
        self._token = current_scope.set(Scope(self.recorder, parent=self._outer))

    def stop(self) -> None:
        from .instrumentation import release

        outer, self._outer = self._outer, None
        if outer is not None and outer.recorder.active and self.recorder.active:
            try:
                outer.recorder.absorb(self.recorder, outer)
            except Exception:
                outer.recorder.internal_errors += 1
        self.recorder.stop()
        if self._patched:
            self._patched = False
            release()
        token, self._token = self._token, None
        if token is not None:
            # Stopped from another context than the one that started it
            # (possible in ASGI middleware chains): the recorder is already
            # inactive, which is what matters.
            with contextlib.suppress(ValueError):
                current_scope.reset(token)
            # Stopped after the recording it was started in (a block left
            # open past its request): not that one's stopped scope again,
            # which would keep its recorder alive in this context.
            restored = current_scope.get()
            if restored is not None and not restored.recorder.active:
                current_scope.set(None)

    def __enter__(self) -> Recording:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Recording:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


def _by_severity(findings: list[Finding]) -> dict[str, int]:
    return {
        severity: sum(1 for finding in findings if finding.severity == severity)
        for severity in SEVERITIES
    }


def record(config: dict[str, Any] | None = None) -> Recording:
    """A ``Recording`` of the signals sent in a ``with``/``async with`` block.

    ``config`` overrides ``SIGNALS_PANEL`` keys for this recording only.
    """
    if not config:
        return Recording()
    merged = get_config()
    for name, value in config.items():
        if name not in OPTIONS:
            raise ValueError(
                f"Unknown option {name!r}. {unknown_option_hint(str(name))}"
            )
        problem = validate_option(name, value)
        if problem:
            raise ValueError(f"Option {name!r}: {problem}.")
        merged[name] = with_defaults(name, value)
    return Recording(merged)
