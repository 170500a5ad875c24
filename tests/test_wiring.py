"""Receivers connected with a sender Django never sends the signal with are
flagged by the system check signals_panel.W001 and in the Receivers tab.

Each case is also run for real: the receiver the check flags does not run
when Django does the thing its author meant it for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, User
from django.core import checks
from django.db import models
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.test import override_settings
from django.test.utils import isolate_apps

from signals_panel.checks import check_receivers
from signals_panel.wiring import never_sent
from tests.testapp.models import BlogPost, Place, Stamped
from tests.toolbar import ToolbarPage, connected

pytestmark = pytest.mark.django_db
HERE = "tests/test_wiring.py"


class Calls:
    """A receiver that remembers it ran (connected strongly: a method of a
    test's local object would be collected)."""

    def __init__(self) -> None:
        self.senders: list[Any] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.senders.append(sender)


def on_likes(sender: Any, **kwargs: Any) -> None:
    pass


def on_saved(sender: Any, **kwargs: Any) -> None:
    pass


def line(function: Callable[..., Any]) -> int:
    return function.__code__.co_firstlineno


def never_runs_warnings() -> list[checks.CheckMessage]:
    return check_receivers()


def test_m2m_changed_connected_to_the_model_is_flagged_with_the_through_model() -> None:
    with connected(m2m_changed, on_likes, sender=BlogPost):
        # Registered: Django's checks run it (manage.py check, runserver).
        (warning,) = [m for m in checks.run_checks() if m.id == "signals_panel.W001"]
    assert warning.level == checks.WARNING
    assert warning.obj == f"tests.test_wiring.on_likes ({HERE}:{line(on_likes)})"
    assert warning.msg.startswith(
        "Never runs: connected to m2m_changed with sender=testapp.BlogPost. "
        "testapp.BlogPost is not a through model"
    )
    assert warning.hint == "Connect it with sender=BlogPost.liked.through."


def test_m2m_changed_connected_to_the_fields_descriptor_is_flagged() -> None:
    with connected(m2m_changed, on_likes, sender=BlogPost.liked):
        (warning,) = never_runs_warnings()
    assert "sender=testapp.BlogPost.liked." in warning.msg
    assert "BlogPost.liked is the field's descriptor" in warning.msg
    assert warning.hint == "Connect it with sender=BlogPost.liked.through."


def test_a_model_with_reverse_relations_only_names_them_in_the_advice() -> None:
    # User is liked through BlogPost.liked, from the other side.
    with connected(m2m_changed, on_likes, sender=get_user_model()):
        (warning,) = never_runs_warnings()
    assert warning.hint == (
        "Connect it with sender=User.groups.through or "
        "User.user_permissions.through or User.liked_posts.through."
    )


def test_a_model_with_no_relation_says_so() -> None:
    with connected(m2m_changed, on_likes, sender=Place):
        (warning,) = never_runs_warnings()
    assert warning.hint == (
        "Connect it with the through model of the relation it should follow "
        "(Place has no many-to-many field or accessor to name it by)."
    )


@isolate_apps("tests.testapp")
def test_a_relation_hidden_from_the_other_side_is_not_named_by_its_accessor() -> None:
    class Tag(models.Model):
        class Meta:
            app_label = "testapp"

    class Photo(models.Model):
        tags = models.ManyToManyField(Tag, related_name="+")

        class Meta:
            app_label = "testapp"

    dead = never_sent(m2m_changed, Tag, {})
    assert dead is not None
    assert dead.fix.endswith(
        "(Tag has no many-to-many field or accessor to name it by)."
    )
    dead = never_sent(m2m_changed, Photo, {})
    assert dead is not None
    assert dead.fix == "Connect it with sender=Photo.tags.through."


def test_what_the_check_flags_really_never_runs_and_its_fix_does(user: Any) -> None:
    wrong, descriptor, right, saved = Calls(), Calls(), Calls(), Calls()
    post = BlogPost.objects.create(title="t")
    with (
        connected(m2m_changed, wrong, sender=BlogPost, weak=False),
        connected(m2m_changed, descriptor, sender=BlogPost.liked, weak=False),
        connected(m2m_changed, right, sender=BlogPost.liked.through, weak=False),
        connected(post_save, saved, sender=BlogPost.liked.through, weak=False),
    ):
        flagged = never_runs_warnings()
        post.liked.add(user)
        post.liked.remove(user)
    assert wrong.senders == descriptor.senders == saved.senders == []
    assert right.senders  # pre_add, post_add, pre_remove, post_remove
    assert [warning.obj for warning in flagged] == [
        f"tests.test_wiring.Calls ({HERE}:{line(Calls.__call__)})"
    ] * 3


def test_save_signals_of_an_auto_created_through_model_are_flagged() -> None:
    with connected(post_save, on_saved, sender=BlogPost.liked.through):
        (warning,) = never_runs_warnings()
    assert "testapp.BlogPost_liked is the table Django made for a many-to-many " in (
        warning.msg
    )
    assert "bulk_create(), which sends no post_save" in warning.msg
    assert (
        warning.hint == "Connect it to m2m_changed with sender=BlogPost.liked.through."
    )


def test_an_abstract_base_names_its_concrete_subclasses() -> None:
    calls = Calls()
    with connected(post_save, calls, sender=AbstractUser, weak=False):
        (warning,) = never_runs_warnings()
        User.objects.create(username="grace")
    assert calls.senders == []
    assert "auth.AbstractUser is abstract" in warning.msg
    assert warning.hint == (
        "Connect it without sender= and test issubclass(sender, AbstractUser) in "
        "the receiver, or connect it once for each concrete subclass (auth.User)."
    )


def test_an_abstract_model_no_model_inherits_is_found_in_its_models_module() -> None:
    with connected(pre_save, on_saved, sender=Stamped):
        (warning,) = never_runs_warnings()
    assert "sender=testapp.Stamped. testapp.Stamped is abstract" in warning.msg
    assert warning.hint.endswith("connect it once for each concrete subclass.")


def test_a_user_model_swapped_out_is_flagged_with_the_one_in_use() -> None:
    with (
        connected(post_save, on_saved, sender=User),
        override_settings(AUTH_USER_MODEL="testapp.Author"),
    ):
        (warning,) = never_runs_warnings()
    assert "auth.User is swapped out for testapp.Author" in warning.msg
    assert warning.hint.startswith('Connect it with sender="testapp.Author"')


def test_senders_django_does_send_are_not_flagged() -> None:
    with (
        connected(post_save, on_saved, sender=BlogPost),
        connected(pre_save, on_saved, sender=User, dispatch_uid="user"),
        connected(m2m_changed, on_likes, sender=BlogPost.liked.through),
        connected(m2m_changed, on_likes, dispatch_uid="any sender"),
        connected(post_save, on_saved, dispatch_uid="any sender"),
    ):
        assert never_runs_warnings() == []


@pytest.mark.django_db(transaction=True)
def test_the_receivers_tab_marks_a_receiver_that_never_runs(
    toolbar_get: Callable[..., ToolbarPage],
) -> None:
    with connected(m2m_changed, on_likes, sender=BlogPost):
        page = toolbar_get("/posts/create/")
    panel = page.panel_html()
    tab = panel.select_one("#djsp-tab-receivers")
    assert tab.select_one(".djsp-count-warning").get_text() == "⚠ 1"
    (row,) = panel.select("tr.djsp-never-sent")
    assert "tests.test_wiring.on_likes" in row.get_text()
    note = row.select_one(".djsp-never-sent-note").get_text(" ", strip=True)
    assert "testapp.BlogPost is not a through model" in note
    assert "Fix: Connect it with sender=BlogPost.liked.through." in note
    (stored,) = [
        receiver
        for receiver in page.stats()["connected"]
        if receiver["receiver"] == "tests.test_wiring.on_likes"
    ]
    assert stored["fix"] == "Connect it with sender=BlogPost.liked.through."


def test_a_sender_known_by_a_bound_methods_ids_is_named_not_judged() -> None:
    from django.dispatch import Signal

    from signals_panel.wiring import connected_receivers

    class Service:
        def run(self) -> None:
            pass

    service = Service()
    signal = Signal()
    signal.connect(on_saved, sender=service.run, weak=False)
    (receiver,) = connected_receivers(signal)
    assert receiver["receiver"] == "tests.test_wiring.on_saved"
    assert receiver["sender"] == "a bound method"
    assert receiver["never_sent"] is None
