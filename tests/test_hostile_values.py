"""Hostile values: exceptions, keys, containers, senders and receivers whose
own code could query, hang, raise or flood. Recorded, each renders safely,
runs none of the user's code and loses no event."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext

import signals_panel
from signals_panel.describe import describe_exception, describe_value
from tests.testapp.models import BlogPost


def noop(sender: Any, **kwargs: Any) -> None:
    pass


@pytest.mark.django_db
def test_an_error_carrying_a_model_is_described_without_a_query() -> None:
    author = get_user_model().objects.create(username="ada")
    post = BlogPost.objects.create(title="t", author=author)

    def fails(sender: Any, post: Any, **kwargs: Any) -> None:
        raise LookupError(post)  # str() would call BlogPost.__str__

    signal = Signal()
    signal.connect(fails, weak=False)
    fresh = BlogPost.objects.get(pk=post.pk)
    with signals_panel.record() as recording:
        with CaptureQueriesContext(connection) as queries:
            with pytest.raises(LookupError):
                signal.send(sender=None, post=fresh)
    assert len(queries) == 0
    call = recording.events[0].receivers[0]
    assert call.error == f"LookupError: testapp.BlogPost pk={post.pk}"
    assert call.queries == 0


class SlowMessage(Exception):
    def __str__(self) -> str:
        time.sleep(5)
        return "slow"


def test_an_errors_own_str_is_not_called() -> None:
    # Its arguments are shown instead: plain values, rendered as values are.
    assert describe_exception(SlowMessage("card declined", 42)) == (
        "tests.test_hostile_values.SlowMessage: ('card declined', 42)"
    )
    assert describe_exception(SlowMessage("card declined")) == (
        "tests.test_hostile_values.SlowMessage: card declined"
    )
    assert describe_exception(SlowMessage()) == "tests.test_hostile_values.SlowMessage"


def test_pythons_and_djangos_errors_keep_their_own_messages() -> None:
    from django.core.exceptions import ValidationError

    assert describe_exception(KeyError("name")) == "KeyError: 'name'"
    assert describe_exception(OSError(2, "No such file")) == (
        "FileNotFoundError: [Errno 2] No such file"
    )
    assert describe_exception(ValidationError("Enter a valid value.")) == (
        "django.core.exceptions.ValidationError: ['Enter a valid value.']"
    )


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("str exploded")


def test_a_primary_key_whose_str_raises_keeps_its_event() -> None:
    meta = type("Meta", (), {"app_label": "testapp", "apps": Apps()})
    thing = type(
        "Thing",
        (models.Model,),
        {
            "__module__": __name__,
            "Meta": meta,
            "id": models.CharField(primary_key=True, max_length=10),
        },
    )
    post_save.connect(noop, sender=thing, weak=False)
    try:
        with signals_panel.record() as recording:
            post_save.send(sender=thing, instance=thing(pk=BadStr()), created=True)
    finally:
        post_save.disconnect(noop, sender=thing)
    (event,) = recording.events
    assert event.target is not None
    assert event.target["pk"] == "<tests.test_hostile_values.BadStr objec…"
    assert recording.summary["internal_errors"] == 0


def test_big_containers_show_their_first_items_only() -> None:
    shown = describe_value(set(range(1_000_000)))
    assert shown.endswith("… +999990}")
    assert shown.count(",") == 10
    assert describe_value(set(range(20))) == ("{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … +10}")
    assert describe_value(list(range(5_000_000))) == (
        "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … +4999990]"
    )
    assert describe_value(frozenset()) == "frozenset()"
    assert describe_value((1,)) == "(1,)"


def test_long_keyword_names_are_cut() -> None:
    signal = Signal()
    signal.connect(noop, weak=False)
    name = "x" * 100_000
    with signals_panel.record() as recording:
        signal.send(sender=None, **{name: 1, "api_" + name: "s3cret"})
    kwargs = recording.events[0].kwargs
    assert sorted(len(key) for key in kwargs) == [100, 100]
    assert "********************" in kwargs.values()
    assert "s3cret" not in str(kwargs)


class ReprMeta(type):
    def __repr__(cls) -> str:
        raise RuntimeError("metaclass repr")


class NameMeta(type):
    def __getattribute__(cls, name: str) -> Any:
        if name in ("__module__", "__qualname__", "__name__", "__dict__"):
            raise RuntimeError(f"no {name}")
        return super().__getattribute__(name)


class ReprClass(metaclass=ReprMeta):
    pass


class NamelessClass(metaclass=NameMeta):
    pass


@pytest.mark.parametrize(
    ("sender", "shown"),
    [
        (ReprClass, "tests.test_hostile_values.ReprClass"),
        (NamelessClass, "tests.test_hostile_values.NamelessClass"),
        (ReprClass(), "<tests.test_hostile_values.ReprClass object>"),
        (NamelessClass(), "<tests.test_hostile_values.NamelessClass object>"),
    ],
    ids=["class-repr", "class-names", "instance-repr", "instance-names"],
)
def test_senders_with_hostile_metaclasses(sender: Any, shown: str) -> None:
    signal = Signal()
    signal.connect(noop, weak=False)
    plain = signal.send(sender=sender)
    with signals_panel.record() as recording:
        recorded = signal.send(sender=sender)
    assert plain == recorded
    assert recording.events[0].sender == shown


class Greeter:
    """A class connected as a receiver: each dispatch makes one."""

    def __init__(self, sender: Any, **kwargs: Any) -> None:
        self.sender = sender


def test_a_class_receiver_is_named_after_itself() -> None:
    signal = Signal()
    signal.connect(Greeter, weak=False)
    with signals_panel.record() as recording:
        signal.send(sender=None)
    call = recording.events[0].receivers[0]
    assert call.name == "tests.test_hostile_values.Greeter"
    assert call.kind == "class"
    assert call.where is not None and call.where.endswith(
        f"test_hostile_values.py:{Greeter.__init__.__code__.co_firstlineno}"
    )


def test_record_with_a_key_that_is_not_a_string() -> None:
    with pytest.raises(ValueError, match=r"Unknown option 1\. Valid keys: "):
        signals_panel.record({1: 2})  # type: ignore[dict-item]


@pytest.mark.django_db
def test_pre_init_positional_values_of_secret_fields_are_masked() -> None:
    user = get_user_model().objects.create_user("ada", password="correct horse")
    signal_settings = {"LIST_SILENT_DISPATCHES": True}
    with signals_panel.record(signal_settings) as recording:
        get_user_model().objects.get(pk=user.pk)
    (event,) = recording.dispatches("pre_init")
    assert "pbkdf2" not in event.kwargs["args"]
    assert event.kwargs["args"].startswith(f"({user.pk}, ********************, ")
    assert "'ada'" in event.kwargs["args"]


def test_senders_past_the_rows_cap_share_one_row_per_signal() -> None:
    from signals_panel.recorder import MAX_SUMMARY_ROWS, OTHER_SENDERS

    signal = Signal()
    signal.connect(noop, weak=False)
    senders = [f"sender {number}" for number in range(MAX_SUMMARY_ROWS + 500)]
    with signals_panel.record({"MAX_EVENTS": 10_000}) as recording:
        for sender in senders:
            signal.send(sender=sender)
    rows = recording.to_dict()["signals"]
    assert len(rows) == MAX_SUMMARY_ROWS + 1
    (other,) = [row for row in rows if row["sender"] == OTHER_SENDERS]
    assert other["dispatches"] == 500
    assert sum(row["dispatches"] for row in rows) == len(senders)
    # Stored events keep their own sender's name (the shared row stores
    # MAX_EVENTS_PER_SENDER of them, as any row does).
    assert recording.events[-1].sender == repr(senders[MAX_SUMMARY_ROWS + 99])


@pytest.mark.django_db
def test_a_validation_error_formatting_a_model_is_not_formatted() -> None:
    from django.core.exceptions import ValidationError

    author = get_user_model().objects.create(username="ada")
    post = BlogPost.objects.get(pk=BlogPost.objects.create(title="t", author=author).pk)
    error = ValidationError("%(post)s is locked", params={"post": post})
    with CaptureQueriesContext(connection) as queries:
        text = describe_exception(error)
    assert len(queries) == 0
    assert text == (
        "django.core.exceptions.ValidationError: "
        f"('%(post)s is locked', None, {{'post': testapp.BlogPost pk={post.pk}}})"
    )


def test_model_and_abstract_model_classes_are_named() -> None:
    from django.db.models import Model

    from signals_panel.describe import describe_sender

    class AbstractBase(models.Model):
        class Meta:
            abstract = True
            app_label = "testapp"

    assert describe_sender(Model) == "django.db.models.base.Model"
    assert describe_sender(AbstractBase) == "testapp.AbstractBase"
    assert describe_value(AbstractBase) == "testapp.AbstractBase"


class UnhashableMeta(type):
    def __eq__(cls, other: object) -> bool:
        return cls is other

    __hash__ = None  # type: ignore[assignment]


class UnhashableClassSignal(Signal, metaclass=UnhashableMeta):
    pass


@pytest.mark.parametrize("method", ["send_robust", "send"])
def test_a_signal_whose_class_cannot_be_hashed(method: str) -> None:
    async def later(sender: Any, **kwargs: Any) -> str:
        return "later"

    signal = UnhashableClassSignal()
    signal.connect(noop, weak=False)
    signal.connect(later, weak=False)
    plain = [response for _, response in getattr(signal, method)(sender=None)]
    with signals_panel.record():
        recorded = [response for _, response in getattr(signal, method)(sender=None)]
    assert plain == recorded == [None, "later"]


class ArmedConfig:
    """A callable whose ``__getattr__`` raises ``KeyError`` once armed
    (Django's ``connect()`` itself rejects it before that)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._armed = False

    def __getattr__(self, name: str) -> Any:
        if not self.__dict__.get("_armed"):
            raise AttributeError(name)
        return self._data[name]

    def __call__(self, sender: Any, **kwargs: Any) -> str:
        return "ran"


def test_a_receiver_whose_getattr_raises_keeps_its_events() -> None:
    signal = Signal()
    receiver = ArmedConfig()
    signal.connect(receiver, weak=False, dispatch_uid="config")
    receiver._armed = True
    with signals_panel.record() as recording:
        assert signal.send(sender=None) == [(receiver, "ran")]
    assert len(recording.events) == 1
    assert recording.events[0].receivers[0].name == (
        "tests.test_hostile_values.ArmedConfig"
    )
    assert recording.summary["internal_errors"] == 0


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
def test_an_async_receiver_raising_generator_exit_is_recorded(method: str) -> None:
    import asyncio

    async def stops(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        raise GeneratorExit("stopped")

    signal = Signal()
    signal.connect(stops, weak=False)

    async def main() -> Any:
        async with signals_panel.record() as recording:
            with contextlib.suppress(GeneratorExit):
                await getattr(signal, method)(sender=None)
        return recording

    recording = asyncio.run(main())
    call = recording.events[0].receivers[0]
    assert call.error == "GeneratorExit: stopped"
