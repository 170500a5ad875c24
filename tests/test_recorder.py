"""What a recording holds: the basic model signals, nesting, async, caps, safety."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import threading
import weakref
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_delete,
    pre_save,
)
from django.dispatch import Signal, receiver

import signals_panel
from signals_panel import describe
from signals_panel.instrumentation import is_installed
from signals_panel.recorder import Event
from tests.testapp.models import BlogPost, Comment, Hostile
from tests.testapp.signals import order_paid
from tests.toolbar import connected

pytestmark = pytest.mark.django_db
User = get_user_model()
THIS_FILE = "tests/test_recorder.py"


def noop(sender: Any, **kwargs: Any) -> None:
    pass


def names(events: list[Event]) -> list[tuple[str, str]]:
    return [(event.signal_name, event.sender) for event in events]


def test_post_save_reports_created_true_then_false_with_the_instance() -> None:
    with connected(post_save, noop, sender=User), signals_panel.record() as recording:
        user = User.objects.create(username="ada")
        user.first_name = "Ada"
        user.save()

    created, updated = recording.dispatches("post_save")
    assert created.signal == "django.db.models.signals.post_save"
    assert created.sender == "auth.User"
    assert created.kwargs["created"] == "True"
    assert updated.kwargs["created"] == "False"
    assert created.kwargs["update_fields"] == "None"
    assert created.kwargs["raw"] == "False"
    assert created.kwargs["using"] == "'default'"
    assert "instance" not in created.kwargs
    assert created.target is not None
    assert created.target["model"] == "auth.User"
    assert created.target["pk"] == str(user.pk)
    assert created.target["db"] == "default"
    assert created.receivers[0].name == "tests.test_recorder.noop"
    assert created.receivers[0].where is not None
    assert created.receivers[0].where.startswith(f"{THIS_FILE}:")


def test_pre_save_of_a_new_object_has_no_pk_yet() -> None:
    with (
        connected(pre_save, noop, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        post = BlogPost.objects.create(title="new")
        post.save(update_fields=["title"])

    first, second = recording.dispatches("pre_save")
    assert first.target is not None and first.target["pk"] is None
    assert second.target is not None and second.target["pk"] == str(post.pk)
    assert second.kwargs["update_fields"] == "frozenset({'title'})"


def test_receivers_connected_with_the_decorator_are_named_and_located() -> None:
    @receiver(post_save, sender=BlogPost, dispatch_uid="decorated-test")
    def decorated(
        sender: Any, instance: BlogPost, created: bool, **kwargs: Any
    ) -> None:
        pass

    try:
        with signals_panel.record() as recording:
            BlogPost.objects.create(title="x")
    finally:
        post_save.disconnect(sender=BlogPost, dispatch_uid="decorated-test")
    (call,) = recording.dispatches("post_save")[0].receivers
    assert call.name == (
        "tests.test_recorder."
        "test_receivers_connected_with_the_decorator_are_named_and_located.<locals>.decorated"
    )
    assert call.ran and call.error is None and call.duration_ms >= 0


def test_send_site_is_the_line_of_user_code_that_saved() -> None:
    with (
        connected(post_save, noop, sender=BlogPost),
        signals_panel.record() as recording,
    ):
        BlogPost.objects.create(title="x")  # the send site
    (event,) = recording.dispatches("post_save")
    assert event.sent_from is not None
    path, rest = event.sent_from.split(":", 1)
    assert path == THIS_FILE
    assert rest.endswith("in test_send_site_is_the_line_of_user_code_that_saved")


def test_delete_sends_pre_and_post_delete_for_each_cascaded_row() -> None:
    post = BlogPost.objects.create(title="doomed")
    comments = [Comment.objects.create(post=post, text=str(i)) for i in range(2)]
    post_id = post.pk
    with connected(pre_delete, noop), connected(post_delete, noop):
        with signals_panel.record() as recording:
            post.delete()
    pre = [
        (e.sender, e.target and e.target["pk"])
        for e in recording.dispatches("pre_delete")
    ]
    post_id = str(post_id)
    post_events = recording.dispatches("post_delete")
    assert sorted(pre) == sorted(
        [("testapp.BlogPost", post_id)]
        + [("testapp.Comment", str(comment.pk)) for comment in comments]
    )
    assert len(post_events) == 3


def test_m2m_changed_reports_every_action_with_pk_set_reverse_and_model() -> None:
    post = BlogPost.objects.create(title="liked")
    ada, bob = User.objects.create(username="ada"), User.objects.create(username="bob")
    through = BlogPost.liked.through
    with (
        connected(m2m_changed, noop, sender=through),
        signals_panel.record() as recording,
    ):
        post.liked.add(ada, bob)
        post.liked.add(ada)  # already there: pk_set is empty
        post.liked.remove(bob)
        post.liked.clear()
        ada.liked_posts.add(post)  # from the other side

    seen = [
        (e.kwargs["action"], e.kwargs["pk_set"], e.kwargs["reverse"], e.kwargs["model"])
        for e in recording.dispatches("m2m_changed")
    ]
    assert seen == [
        ("'pre_add'", f"{{{ada.pk}, {bob.pk}}}", "False", "auth.User"),
        ("'post_add'", f"{{{ada.pk}, {bob.pk}}}", "False", "auth.User"),
        ("'pre_add'", "set()", "False", "auth.User"),
        ("'post_add'", "set()", "False", "auth.User"),
        ("'pre_remove'", f"{{{bob.pk}}}", "False", "auth.User"),
        ("'post_remove'", f"{{{bob.pk}}}", "False", "auth.User"),
        ("'pre_clear'", "None", "False", "auth.User"),
        ("'post_clear'", "None", "False", "auth.User"),
        ("'pre_add'", f"{{{post.pk}}}", "True", "testapp.BlogPost"),
        ("'post_add'", f"{{{post.pk}}}", "True", "testapp.BlogPost"),
    ]
    assert {e.sender for e in recording.dispatches("m2m_changed")} == {
        "testapp.BlogPost_liked"
    }
    reverse = recording.dispatches("m2m_changed")[-1]
    assert reverse.target is not None and reverse.target["model"] == "auth.User"


def test_custom_signal_is_named_by_its_module_and_its_kwargs_are_kept() -> None:
    with connected(order_paid, noop), signals_panel.record() as recording:
        order_paid.send(sender=BlogPost, amount=12, currency="EUR")
    (event,) = recording.events
    assert event.signal == "tests.testapp.signals.order_paid"
    assert event.signal_name == "order_paid"
    assert event.kwargs == {"amount": "12", "currency": "'EUR'"}


def test_a_dispatch_from_a_receiver_is_nested_under_that_receiver() -> None:
    def add_comment(
        sender: Any, instance: BlogPost, created: bool, **kwargs: Any
    ) -> None:
        if created:
            Comment.objects.create(post=instance, text="first!")

    with connected(post_save, noop), connected(post_save, add_comment, sender=BlogPost):
        with signals_panel.record() as recording:
            BlogPost.objects.create(title="x")

    post_event, comment_event = recording.dispatches("post_save")
    assert post_event.sender == "testapp.BlogPost"
    assert comment_event.sender == "testapp.Comment"
    assert comment_event.parent == post_event.id
    assert comment_event.depth == 1
    receiver_names = [call.name for call in post_event.receivers]
    assert comment_event.parent_receiver == receiver_names.index(
        "tests.test_recorder.test_a_dispatch_from_a_receiver_is_nested_under_that_receiver"
        ".<locals>.add_comment"
    )
    add_comment_call = post_event.receivers[comment_event.parent_receiver]
    # The receiver's own INSERT, plus nothing else: counts are per receiver.
    assert add_comment_call.queries == 1
    assert post_event.receivers[0].queries == 0
    assert (
        comment_event.sent_from is not None
        and "in add_comment" in comment_event.sent_from
    )


def test_dispatches_with_no_receiver_are_counted_not_stored() -> None:
    BlogPost.objects.create(title="a")
    BlogPost.objects.create(title="b")
    with signals_panel.record() as recording:
        list(BlogPost.objects.all())
    assert recording.events == []
    rows = {
        (row["signal_name"], row["sender"]): row
        for row in recording.to_dict()["signals"]
    }
    assert rows[("pre_init", "testapp.BlogPost")]["dispatches"] == 2
    assert rows[("post_init", "testapp.BlogPost")]["silent"] == 2
    assert recording.summary["silent"] == recording.summary["dispatches"] == 4


def test_silent_dispatches_can_be_listed_by_setting() -> None:
    with signals_panel.record({"LIST_SILENT_DISPATCHES": True}) as recording:
        BlogPost(title="unsaved")
    assert names(recording.events) == [
        ("pre_init", "testapp.BlogPost"),
        ("post_init", "testapp.BlogPost"),
    ]
    assert recording.events[0].receivers == []


def test_a_receiver_error_is_recorded_and_the_exception_still_propagates() -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("<b>boom</b>")

    with connected(order_paid, broken), signals_panel.record() as recording:
        with pytest.raises(RuntimeError):
            order_paid.send(sender=None)
        order_paid.send_robust(sender=None)
    failed, swallowed = recording.events
    assert failed.receivers[0].error == "RuntimeError: <b>boom</b>"
    assert failed.error == "RuntimeError: <b>boom</b>"
    assert swallowed.method == "send_robust"
    assert swallowed.receivers[0].error == "RuntimeError: <b>boom</b>"
    assert swallowed.error is None
    assert recording.summary["receiver_errors"] == 2


def test_receivers_after_a_failing_one_are_marked_as_not_run() -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("stop")

    with connected(order_paid, broken), connected(order_paid, noop):
        with signals_panel.record() as recording, pytest.raises(RuntimeError):
            order_paid.send(sender=None)
    assert [call.ran for call in recording.events[0].receivers] == [True, False]


def test_async_receivers_and_asend_are_recorded_with_nesting() -> None:
    async def on_paid(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        await sync_to_async(BlogPost.objects.create)(title="from async")

    async def run() -> Any:
        async with signals_panel.record() as recording:
            await order_paid.asend(sender=None, amount=3)
        return recording

    with connected(order_paid, on_paid), connected(post_save, noop, sender=BlogPost):
        recording = async_to_sync(run)()
    paid, saved = recording.events
    assert paid.method == "asend"
    assert paid.receivers[0].is_async
    assert paid.receivers[0].name.endswith("<locals>.on_paid")
    assert saved.signal_name == "post_save"
    assert saved.parent == paid.id
    assert saved.parent_receiver == 0


def test_sync_send_with_an_async_receiver_is_recorded() -> None:
    async def on_paid(sender: Any, **kwargs: Any) -> str:
        return "async"

    with connected(order_paid, noop), connected(order_paid, on_paid):
        with signals_panel.record() as recording:
            responses = order_paid.send(sender=None)
    assert [response for _, response in responses] == [None, "async"]
    calls = recording.events[0].receivers
    assert [(call.is_async, call.ran) for call in calls] == [
        (False, True),
        (True, True),
    ]


def test_parallel_async_receivers_each_get_their_own_children() -> None:
    # Django 6.1 runs these two receivers as tasks sharing one context.
    inner = Signal()

    async def async_noop(sender: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)

    # Only async receivers inside: on 6.1 a sync one would make asgiref refuse
    # the second concurrent sync_to_async hop, with or without a recording.
    inner.connect(async_noop)

    def make(tag: str) -> Any:
        async def send_inner(sender: Any, **kwargs: Any) -> None:
            for _ in range(3):
                await asyncio.sleep(0)
                await inner.asend(sender=tag)

        send_inner.__qualname__ = f"send_inner_{tag}"
        return send_inner

    first, second = make("a"), make("b")

    async def run() -> Any:
        async with signals_panel.record() as recording:
            await order_paid.asend(sender=None)
        return recording

    with connected(order_paid, first), connected(order_paid, second):
        recording = asyncio.run(run())
    outer = recording.events[0]
    children = recording.events[1:]
    assert len(children) == 6
    for child in children:
        expected = 0 if child.sender == "'a'" else 1
        assert (child.parent, child.parent_receiver) == (outer.id, expected)


def test_code_a_receiver_leaves_to_run_later_still_nests_under_that_receiver() -> None:
    """A receiver that hands work to run after the dispatch (a context copied
    for a thread or a callback) gets its dispatches nested under itself, not
    under whichever receiver ran last."""
    inner = Signal()
    later: list[contextvars.Context] = []

    def leave_work(sender: Any, **kwargs: Any) -> None:
        later.append(contextvars.copy_context())

    def runs_second(sender: Any, **kwargs: Any) -> None:
        inner.send(sender="now")

    with connected(order_paid, leave_work), connected(order_paid, runs_second):
        with connected(inner, noop):
            with signals_panel.record() as recording:
                order_paid.send(sender=None)
                later[0].run(inner.send, sender="later")
    outer, now, late = recording.events
    assert (now.sender, now.parent, now.parent_receiver) == ("'now'", outer.id, 1)
    assert (late.sender, late.parent, late.parent_receiver) == ("'later'", outer.id, 0)


def test_concurrent_recordings_in_threads_see_only_their_own_dispatches() -> None:
    barrier = threading.Barrier(2, timeout=10)
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(tag: str) -> None:
        try:
            with signals_panel.record() as recording:
                for index in range(20):
                    order_paid.send(sender=tag, index=index)
                    if index == 10:
                        barrier.wait()
            results[tag] = [event.sender for event in recording.events]
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    with connected(order_paid, noop):
        threads = [threading.Thread(target=worker, args=(tag,)) for tag in ("x", "y")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert results == {"x": ["'x'"] * 20, "y": ["'y'"] * 20}


def test_recordings_starting_and_stopping_while_other_threads_dispatch() -> None:
    """The patches go in and out as recordings start and stop: threads that
    dispatch meanwhile, recording or not, get Django's answers every time and
    each recording holds exactly its own dispatches."""
    stop = threading.Event()
    errors: list[BaseException] = []
    counts: dict[str, list[int]] = {"toggler": [], "recorder": []}

    def plain_sender() -> None:
        try:
            while not stop.is_set():
                assert order_paid.send(sender="plain") == [(noop, None)]
                assert order_paid.send_robust(sender="plain") == [(noop, None)]
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def recording_sender(tag: str, rounds: int, per_round: int) -> None:
        try:
            for _ in range(rounds):
                with signals_panel.record() as recording:
                    for index in range(per_round):
                        assert order_paid.send(sender=tag, index=index) == [
                            (noop, None)
                        ]
                counts[tag].append(
                    sum(1 for event in recording.events if event.sender == f"'{tag}'")
                )
                assert {event.sender for event in recording.events} == {f"'{tag}'"}
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    with connected(order_paid, noop):
        plain = [threading.Thread(target=plain_sender) for _ in range(2)]
        recorders = [
            threading.Thread(target=recording_sender, args=("toggler", 300, 1)),
            threading.Thread(target=recording_sender, args=("recorder", 20, 50)),
        ]
        for thread in [*plain, *recorders]:
            thread.start()
        for thread in recorders:
            thread.join()
        stop.set()
        for thread in plain:
            thread.join()
    assert not errors, errors
    assert counts == {"toggler": [1] * 300, "recorder": [50] * 20}
    assert not is_installed()


def test_senders_reusing_the_ids_of_collected_ones_get_their_own_rows() -> None:
    seen_ids: set[int] = set()
    reused = 0
    with connected(order_paid, noop), signals_panel.record() as recording:
        for index in range(100):
            sender = type(f"Sender{index}", (), {})
            reused += id(sender) in seen_ids
            seen_ids.add(id(sender))
            order_paid.send(sender=sender)
            del sender
            gc.collect(0)  # a class is a cycle: a young-generation pass frees it
        for text in ("a", "b", "a"):
            order_paid.send(sender=text)
    assert reused  # CPython hands the freed memory to the next class
    counts = {row.sender: row.dispatches for row in recording.recorder.rows.values()}
    short = {name.rsplit(".", 1)[-1]: count for name, count in counts.items()}
    assert {f"Sender{index}" for index in range(100)} <= set(short)
    assert all(short[f"Sender{index}"] == 1 for index in range(100))
    assert (short["'a'"], short["'b'"]) == (2, 1)


class PlainSender:
    """A sender freed as soon as its last reference goes (no cycle)."""


def test_a_recording_keeps_no_signal_alive_and_forgets_its_cached_rows() -> None:
    seen_ids: set[int] = set()
    reused = 0
    with signals_panel.record() as recording:
        for index in range(100):
            signal = Signal()
            signal.connect(noop, weak=False)
            reused += id(signal) in seen_ids
            seen_ids.add(id(signal))
            alive = weakref.ref(signal)
            for _ in range(index % 3 + 1):
                signal.send(sender="same sender")
            del signal
            gc.collect()
            assert alive() is None  # the recording keeps no signal alive
        # A signal that goes before its sender, and one that goes after it,
        # each freed at once (no cycle to wait for the collector).
        for signal_goes_first in (True, False):
            signal = Signal()
            signal.connect(noop, weak=False)
            sender = PlainSender()
            signal.send(sender=sender)
            if signal_goes_first:
                del signal, sender
            else:
                del sender, signal
        recorder = recording.recorder
        # Entries went with their signals and senders: only live ones count.
        assert recorder._remembered == sum(map(len, recorder.rows_by_signal.values()))
    assert reused
    # A signal defined in a function is labelled by its id: one that reuses
    # an id shares its row, so the counts are checked as a whole.
    counts = [row.dispatches for row in recording.recorder.rows.values()]
    assert sum(counts) == sum(index % 3 + 1 for index in range(100)) + 2


def test_the_write_log_keeps_no_model_class_alive_and_tells_reused_ids_apart() -> None:
    """Model classes made at run time (as some tests do) can die mid-recording;
    a new one may get the same id() and must not be logged under the old one's
    name."""
    labels: list[str] = []
    seen_ids: set[int] = set()
    reused = 0
    with signals_panel.record() as recording:
        for index in range(30):
            registry = Apps()
            meta = type("Meta", (), {"app_label": "testapp", "apps": registry})
            model = type(
                f"Temporary{index}",
                (models.Model,),
                {"__module__": __name__, "Meta": meta},
            )
            reused += id(model) in seen_ids
            seen_ids.add(id(model))
            instance = model(pk=index)
            for _ in range(2):  # the write log lists rows written again
                post_save.send(sender=model, instance=instance, created=False)
            labels += [model._meta.label] * 2
            del instance
            alive = weakref.ref(model)
            del model, meta, registry
            gc.collect()
            assert alive() is None
        # Their cache entries went with them.
        assert not describe._model_cache.keys() & seen_ids
    assert reused
    assert [write["model"] for write in recording.to_dict()["writes"]] == labels


def temporary_model(name: str, **fields: Any) -> type[models.Model]:
    """A model class in a registry of its own (it needs no table here)."""
    meta = type("Meta", (), {"app_label": "testapp", "apps": Apps()})
    return type(name, (models.Model,), {"__module__": __name__, "Meta": meta, **fields})


def test_the_write_log_knows_rows_by_table_and_whole_primary_key() -> None:
    """A proxy writes its concrete model's rows; two keys that share their
    first 40 characters are two rows; an odd key that cannot be hashed is
    logged by its text rather than lost."""
    keyed = temporary_model(
        "LongKey", id=models.CharField(primary_key=True, max_length=100)
    )
    proxy_meta = type(
        "Meta", (), {"app_label": "testapp", "apps": keyed._meta.apps, "proxy": True}
    )
    proxy = type("LongKeyProxy", (keyed,), {"__module__": __name__, "Meta": proxy_meta})
    prefix = "k" * 45
    odd = keyed(pk=[1, 2])
    with signals_panel.record() as recording:
        for instance in (keyed(pk=prefix + "1"), keyed(pk=prefix + "2")):
            post_save.send(sender=keyed, instance=instance, created=True)
        for instance in (keyed(pk="same"), proxy(pk="same"), odd, odd):
            post_save.send(sender=type(instance), instance=instance, created=False)
    writes = recording.to_dict()["writes"]
    assert [(write["model"], write["pk"]) for write in writes] == [
        ("testapp.LongKey", "same"),
        ("testapp.LongKey", "same"),
        ("testapp.LongKey", "[1, 2]"),
        ("testapp.LongKey", "[1, 2]"),
    ]
    assert recording.summary["internal_errors"] == 0


def save_again(post: BlogPost) -> None:
    post.save()


@pytest.mark.django_db
@pytest.mark.parametrize("listened", [True, False], ids=["over-the-cap", "silent"])
def test_writes_on_the_counting_paths_keep_their_send_site(listened: bool) -> None:
    """A post_save that is only counted (caps reached, or nobody listening)
    still logs the write with the line of your code that saved."""
    post = BlogPost.objects.create(title="w")
    receivers = connected(post_save, noop, sender=BlogPost) if listened else None
    with receivers or contextlib.nullcontext():
        with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording:
            save_again(post)
            save_again(post)
    writes = recording.to_dict()["writes"]
    assert [write["event"] is None for write in writes] == (
        [False, True] if listened else [True, True]
    )
    assert all(write["site"].endswith("in save_again") for write in writes)


def create_post(title: str) -> BlogPost:
    return BlogPost.objects.create(title=title)


@pytest.mark.django_db
@pytest.mark.parametrize("listened", [True, False], ids=["stored", "silent"])
def test_past_its_cap_a_write_keeps_its_site_only_when_it_repeats_a_row(
    listened: bool,
) -> None:
    """Each post_save row keeps the send site of its first
    MAX_EVENTS_PER_SENDER writes; later ones only when they write a row
    again. The log lists the rows written more than once: what the
    repeated_save finding reads."""
    receivers = connected(post_save, noop, sender=BlogPost) if listened else None
    with receivers or contextlib.nullcontext():
        with signals_panel.record({"MAX_EVENTS_PER_SENDER": 2}) as recording:
            posts = [create_post(str(i)) for i in range(4)]
            save_again(posts[3])
            save_again(posts[0])
    writes = recording.to_dict()["writes"]
    assert [write["pk"] for write in writes] == [str(posts[3].pk)] * 2 + [
        str(posts[0].pk)
    ] * 2
    sites = [write["site"] or "" for write in writes]
    assert sites[0] == ""  # the fourth create: past the cap, first of its row
    assert [site.rsplit(" in ", 1)[-1] for site in sites[1:]] == [
        "save_again",
        "create_post",  # the first create: under the cap
        "save_again",
    ]
    findings = [f for f in recording.findings if f.kind == "repeated_save"]
    assert [f.message.rsplit(" from ", 1)[-1] for f in findings] == [
        f"a site not kept, {sites[1]}.",
        f"{sites[2]}, {sites[3]}.",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_post_save_sent_with_asend_logs_its_write_with_its_site() -> None:
    post = BlogPost.objects.create(title="a")

    async def announce_twice() -> None:
        for _ in range(2):
            await post_save.asend(sender=BlogPost, instance=post, created=False)

    with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording:
        async_to_sync(announce_twice)()
    writes = recording.to_dict()["writes"]
    assert [write["pk"] for write in writes] == [str(post.pk)] * 2
    assert all(write["site"].endswith("in announce_twice") for write in writes)


@pytest.mark.django_db
def test_a_write_whose_post_save_receiver_fails_is_still_logged() -> None:
    """The row is in the database before post_save runs: a receiver raising
    does not undo the write, stored or only counted."""

    def fails(sender: Any, **kwargs: Any) -> None:
        raise ValueError("after the write")

    post = BlogPost.objects.create(title="f")
    with connected(post_save, fails, sender=BlogPost):
        with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording:
            for _ in range(2):
                with pytest.raises(ValueError, match="after the write"):
                    save_again(post)
    writes = recording.to_dict()["writes"]
    assert [write["event"] is None for write in writes] == [False, True]
    assert all(write["site"].endswith("in save_again") for write in writes)
    assert [f.kind for f in recording.findings].count("repeated_save") == 1


def test_a_flood_of_post_init_leaves_room_for_later_events() -> None:
    BlogPost.objects.bulk_create([BlogPost(title=str(i)) for i in range(300)])
    with connected(post_init, noop, sender=BlogPost), connected(order_paid, noop):
        with signals_panel.record() as recording:
            list(BlogPost.objects.all())
            order_paid.send(sender=None, after="flood")
    assert len(recording.dispatches("post_init")) == 100
    assert recording.dispatches("order_paid")[0].kwargs == {"after": "'flood'"}
    summary = recording.summary
    assert summary["not_stored"] == 200
    row = next(
        r for r in recording.to_dict()["signals"] if r["signal_name"] == "post_init"
    )
    assert (row["dispatches"], row["not_stored"], row["receivers_run"]) == (
        300,
        200,
        300,
    )


def test_the_event_cap_counts_what_it_did_not_store() -> None:
    with connected(order_paid, noop):
        with signals_panel.record({"MAX_EVENTS": 5}) as recording:
            for index in range(12):
                order_paid.send(sender=index)
    assert len(recording.events) == 5
    assert recording.summary["not_stored"] == 7
    assert recording.summary["dispatches"] == 12


def test_a_sender_nobody_listens_to_is_counted_silent_while_others_are_heard() -> None:
    """post_init has a receiver for BlogPost only: a Comment's post_init calls
    no one, and is counted as silent, however many there are."""
    post = BlogPost.objects.create(title="p")
    Comment.objects.bulk_create([Comment(post=post, text=str(i)) for i in range(3)])
    with connected(post_init, noop, sender=BlogPost):
        with signals_panel.record() as recording:
            list(Comment.objects.all())
            list(BlogPost.objects.all())
    rows = {
        (row["signal_name"], row["sender"]): row
        for row in recording.to_dict()["signals"]
    }
    comment = rows[("post_init", "testapp.Comment")]
    assert (comment["dispatches"], comment["silent"], comment["not_stored"]) == (
        3,
        3,
        0,
    )
    assert [(e.signal_name, e.sender) for e in recording.events] == [
        ("post_init", "testapp.BlogPost")
    ]


def test_past_the_event_cap_new_senders_are_counted_with_their_errors() -> None:
    def fails(sender: Any, **kwargs: Any) -> None:
        raise ValueError("nope")

    with connected(order_paid, noop), connected(order_paid, fails):
        with signals_panel.record({"MAX_EVENTS": 2}) as recording:
            for sender in ("a", "b", "c", "d"):
                order_paid.send_robust(sender=sender)
    assert [event.sender for event in recording.events] == ["'a'", "'b'"]
    rows = {row["sender"]: row for row in recording.to_dict()["signals"]}
    assert [
        (rows[s]["dispatches"], rows[s]["not_stored"], rows[s]["receivers_run"])
        for s in ("'c'", "'d'")
    ] == [(1, 1, 2), (1, 1, 2)]
    assert [rows[s]["errors"] for s in ("'a'", "'b'", "'c'", "'d'")] == [1, 1, 1, 1]
    summary = recording.summary
    assert (summary["dispatches"], summary["not_stored"]) == (4, 2)
    assert summary["receiver_errors"] == 4


def test_children_of_an_unstored_dispatch_attach_to_the_nearest_stored_one() -> None:
    inner = Signal()
    inner.connect(noop)

    def relay(sender: Any, n: int, **kwargs: Any) -> None:
        inner.send(sender=f"child{n}")

    with connected(order_paid, relay):
        with signals_panel.record({"MAX_EVENTS_PER_SENDER": 1}) as recording:
            order_paid.send(sender=None, n=1)
            order_paid.send(sender=None, n=2)  # not stored: one per sender
    assert [(e.signal_name, e.parent, e.depth) for e in recording.events] == [
        ("order_paid", None, 0),
        ("signal", 0, 1),
        ("signal", None, 0),
    ]


def test_secrets_are_masked_and_values_are_rendered_safely() -> None:
    class Explodes:
        def __repr__(self) -> str:
            raise RuntimeError("repr")

    hostile = Hostile.objects.create(name="h")
    with connected(order_paid, noop), signals_panel.record() as recording:
        order_paid.send(
            sender=None,
            password="hunter2",
            api_token="abc",
            credentials={"username": "ada", "password": "x"},
            options={"session_key": "s", "page": 2},
            obj=Explodes(),
            hostile=hostile,
            post=BlogPost(title="<script>alert(1)</script>"),
            big="x" * 10_000,
            raw=b"\xff\xfe" * 100,
        )
    kwargs = recording.events[0].kwargs
    assert (
        kwargs["password"] == kwargs["api_token"] == kwargs["credentials"] == "*" * 20
    )
    assert kwargs["options"] == "{'session_key': ********************, 'page': 2}"
    assert (
        kwargs["obj"]
        == "<tests.test_recorder.test_secrets_are_masked_and_values_are_rendered_safely.<locals>.Explodes object>"
    )
    assert kwargs["hostile"] == f"testapp.Hostile pk={hostile.pk}"
    assert kwargs["post"] == "testapp.BlogPost (unsaved)"
    assert len(kwargs["big"]) == 200 and kwargs["big"].endswith("…")
    assert kwargs["raw"].startswith("b'\\xff\\xfe") and kwargs["raw"].endswith(
        "… (200 bytes)"
    )


def test_rendering_never_queries_the_database(django_assert_num_queries: Any) -> None:
    author = User.objects.create(username="ada")
    post = BlogPost.objects.create(title="t", author=author)
    fresh = BlogPost.objects.get(pk=post.pk)  # author not loaded: __str__ would query
    with connected(order_paid, noop), django_assert_num_queries(0):
        with signals_panel.record() as recording:
            order_paid.send(sender=fresh, post=fresh, posts=BlogPost.objects.all())
    assert recording.events[0].sender == f"testapp.BlogPost pk={post.pk}"
    assert recording.events[0].kwargs["posts"] == "<QuerySet testapp.BlogPost>"


def test_recursion_error_still_reaches_the_caller_and_the_recording_is_bounded() -> (
    None
):
    def saves_itself(sender: Any, instance: BlogPost, **kwargs: Any) -> None:
        instance.save()

    post = BlogPost.objects.create(title="loop")
    with connected(pre_save, saves_itself, sender=BlogPost):
        with signals_panel.record() as recording, pytest.raises(RecursionError):
            post.save()
    assert 0 < len(recording.events) <= 100
    assert recording.summary["dispatches"] > 100


def test_record_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="Did you mean 'MAX_EVENTS'"):
        signals_panel.record({"MAX_EVENT": 5})
    with pytest.raises(ValueError, match="at least 1"):
        signals_panel.record({"MAX_EVENTS": 0})


def test_signal_recording_fixture_records_the_test(signal_recording: Any) -> None:
    with connected(order_paid, noop):
        order_paid.send(sender=None)
    assert [event.signal_name for event in signal_recording.events] == ["order_paid"]


def test_nesting_survives_async_to_sync_and_sync_to_async_hops() -> None:
    inner = Signal()
    inner.connect(noop)

    async def async_part() -> None:
        await inner.asend(sender="from async_to_sync")

    def sync_receiver(sender: Any, **kwargs: Any) -> None:
        async_to_sync(async_part)()

    async def async_receiver(sender: Any, **kwargs: Any) -> None:
        await sync_to_async(inner.send)(sender="from sync_to_async")

    with connected(order_paid, sync_receiver), connected(order_paid, async_receiver):
        with signals_panel.record() as recording:
            order_paid.send(sender=None)
    outer, *children = recording.events
    assert sorted((c.sender, c.parent, c.parent_receiver) for c in children) == [
        ("'from async_to_sync'", outer.id, 0),
        ("'from sync_to_async'", outer.id, 1),
    ]


@pytest.mark.parametrize("caching", [False, True], ids=["plain", "use_caching"])
def test_a_sender_that_breaks_hashing_fails_exactly_as_without_recording(
    caching: bool,
) -> None:
    class Unhashable:
        def __hash__(self) -> int:
            raise RuntimeError("no hashing")

    signal = Signal(use_caching=caching) if caching else order_paid
    with connected(signal, noop):
        with pytest.raises(RuntimeError, match="no hashing"):
            signal.send(sender=Unhashable())
        with signals_panel.record() as recording:
            with pytest.raises(RuntimeError, match="no hashing"):
                signal.send(sender=Unhashable())
    assert recording.summary["internal_errors"] == 0
    assert recording.summary["dispatches"] == 1
    assert recording.events == []


def test_a_cached_nobody_listens_answer_after_a_receiver_died_leaves_the_signal_as_django_does() -> (
    None
):
    """Django's send() answers [] from its cache for a sender nobody listens
    to, even once a weak receiver has died; it then leaves the dead entry in
    ``receivers`` until the next lookup. Recording does the same."""

    def run() -> tuple[list[Any], int]:
        signal = Signal(use_caching=True)

        class Heard:
            pass

        class Unheard:
            pass

        class Listener:
            def heard(self, sender: Any, **kwargs: Any) -> None:
                pass

        # A bound method: with DEBUG, Django keeps the functions it checks
        # for **kwargs alive in a cache, but not the objects they are bound to.
        listener = Listener()
        signal.connect(listener.heard, sender=Heard)
        first = signal.send(sender=Unheard)  # caches "nobody listens"
        del listener
        gc.collect()
        assert signal._dead_receivers
        return [first, signal.send(sender=Unheard)], len(signal.receivers)

    plain = run()
    with signals_panel.record():
        assert run() == plain
    assert plain == ([[], []], 1)


def test_dispatches_only_the_toolbar_listens_to_are_counted_not_shown() -> None:
    def toolbar_listener(sender: Any, **kwargs: Any) -> None:
        pass

    toolbar_listener.__module__ = "debug_toolbar.panels.templates.panel"
    with connected(order_paid, toolbar_listener), signals_panel.record() as recording:
        order_paid.send(sender=None)
    assert recording.events == []
    assert recording.summary["dispatches"] == 1
    with connected(order_paid, toolbar_listener), connected(order_paid, noop):
        with signals_panel.record() as recording:
            order_paid.send(sender=None)
    assert [call.name for call in recording.events[0].receivers] == [
        "debug_toolbar.panels.templates.panel.test_dispatches_only_the_toolbar_listens_to_are_counted_not_shown.<locals>.toolbar_listener",
        "tests.test_recorder.noop",
    ]


outer_signal = Signal()
inner_signal = Signal()


def hidden_listener(sender: Any, **kwargs: Any) -> None:
    inner_signal.send(sender="from hidden")


def shown_listener(sender: Any, **kwargs: Any) -> None:
    inner_signal.send(sender="from shown")


def test_ignored_receivers_are_left_out_of_a_shown_dispatch_children_follow() -> None:
    config = {"IGNORE_RECEIVERS": [f"{__name__}.hidden_"]}
    with (
        connected(outer_signal, hidden_listener),
        connected(outer_signal, shown_listener),
        connected(inner_signal, noop),
        signals_panel.record(config) as recording,
    ):
        outer_signal.send(sender=None)
    outer, *children = recording.to_dict()["events"]
    assert [call["name"] for call in outer["receivers"]] == [
        f"{__name__}.shown_listener"
    ]
    by_sender = {child["sender"]: child for child in children}
    # The hidden receiver's child stays in the timeline, under the dispatch.
    assert by_sender["'from hidden'"]["parent_receiver"] is None
    assert by_sender["'from shown'"]["parent_receiver"] == 0
    assert {child["parent"] for child in children} == {outer["id"]}


@pytest.mark.django_db
def test_with_no_project_frame_the_send_site_is_djangos_calling_code() -> None:
    # Nothing of the project's on the stack (the admin under runserver, a
    # management command): the code that called into the ORM is named.
    from django.core import serializers

    data = '[{"model": "testapp.blogpost", "fields": {"title": "loaded"}}]'
    (loaded,) = serializers.deserialize("json", data)
    with connected(post_save, noop, sender=BlogPost), signals_panel.record() as rec:
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(loaded.save,))
        worker.start()
        worker.join()
    (event,) = rec.dispatches("post_save")
    assert event.sent_from is not None
    assert event.sent_from.startswith("django/core/serializers/base.py:")
    assert event.sent_from.endswith(" in save")
