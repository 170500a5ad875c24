"""Names of signals, senders and receivers; safe renderings of values."""

from __future__ import annotations

import datetime
import decimal
import functools
import uuid
from typing import Any

import pytest
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.signals import request_finished
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import Signal
from django.utils.functional import SimpleLazyObject

from signals_panel.describe import (
    MASK,
    describe_callable,
    describe_kwarg,
    describe_sender,
    describe_value,
    signal_names,
)
from tests.testapp.models import BlogPost
from tests.testapp.signals import Checkout, order_paid

HERE = "tests/test_describe.py"


def plain(sender: Any, **kwargs: Any) -> None:
    pass


async def coroutine_receiver(sender: Any, **kwargs: Any) -> None:
    pass


class Handler:
    def method(self, sender: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        pass


def decorated(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


@decorated
def wrapped_receiver(sender: Any, **kwargs: Any) -> None:
    pass


LAMBDA = lambda sender, **kwargs: None  # noqa: E731


def line_of(func: Any) -> int:
    return int(func.__code__.co_firstlineno)


@pytest.mark.parametrize(
    ("receiver", "name", "line"),
    [
        (plain, "tests.test_describe.plain", line_of(plain)),
        (
            coroutine_receiver,
            "tests.test_describe.coroutine_receiver",
            line_of(coroutine_receiver),
        ),
        (
            Handler().method,
            "tests.test_describe.Handler.method",
            line_of(Handler.method),
        ),
        (Handler(), "tests.test_describe.Handler", line_of(Handler.__call__)),
        (
            functools.partial(plain, extra=1),
            "partial(tests.test_describe.plain)",
            line_of(plain),
        ),
        (LAMBDA, "tests.test_describe.<lambda>", line_of(LAMBDA)),
        (
            wrapped_receiver,
            "tests.test_describe.wrapped_receiver",
            line_of(wrapped_receiver.__wrapped__),
        ),
    ],
)
def test_every_kind_of_receiver_gets_a_dotted_name_and_its_definition_line(
    receiver: Any, name: str, line: int
) -> None:
    assert describe_callable(receiver) == (name, f"{HERE}:{line}")


def test_a_receiver_from_an_installed_package_is_located_inside_it() -> None:
    from django.contrib.auth.models import update_last_login

    name, where = describe_callable(update_last_login)
    assert name == "django.contrib.auth.models.update_last_login"
    assert where is not None and where.startswith("django/contrib/auth/models.py:")


@pytest.mark.parametrize(
    ("signal", "dotted"),
    [
        (post_save, "django.db.models.signals.post_save"),
        (m2m_changed, "django.db.models.signals.m2m_changed"),
        (request_finished, "django.core.signals.request_finished"),
        (user_logged_in, "django.contrib.auth.signals.user_logged_in"),
        (order_paid, "tests.testapp.signals.order_paid"),
    ],
)
def test_module_level_signals_are_named_where_they_are_defined(
    signal: Signal, dotted: str
) -> None:
    assert signal_names.name(signal) == (dotted, dotted.rsplit(".", 1)[1])


def test_signals_held_by_a_class_are_named_by_the_class() -> None:
    from debug_toolbar.toolbar import DebugToolbar

    assert signal_names.name(Checkout.refunded) == (
        "tests.testapp.signals.Checkout.refunded",
        "refunded",
    )
    # The toolbar's own: IGNORE_SIGNALS ("debug_toolbar.") covers it.
    assert signal_names.name(DebugToolbar._created)[0] == (
        "debug_toolbar.toolbar.DebugToolbar._created"
    )


def test_an_anonymous_signal_still_gets_a_stable_label() -> None:
    local = Signal()
    label, short = signal_names.name(local)
    assert label.startswith("django.dispatch.dispatcher.Signal at 0x")
    assert signal_names.name(local) == (label, short)
    assert short == "signal"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "None"),
        (True, "True"),
        (12, "12"),
        ("café", "'café'"),
        ({3, 1, 2}, "{1, 2, 3}"),
        (frozenset(), "frozenset()"),
        (set(), "set()"),
        ((1,), "(1,)"),
        ([1, [2, [3, [4]]]], "[1, [2, <list of 2>]]"),
        (list(range(15)), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … +5]"),
        (decimal.Decimal("1.50"), "Decimal('1.50')"),
        (datetime.date(2026, 1, 2), "datetime.date(2026, 1, 2)"),
        (uuid.UUID(int=1), "UUID('00000000-0000-0000-0000-000000000001')"),
        (BlogPost, "testapp.BlogPost"),
        (Handler, "tests.test_describe.Handler"),
        (Handler(), "<tests.test_describe.Handler object>"),
        (b"\x00\x01", "b'\\x00\\x01'"),
    ],
)
def test_values_render_to_short_safe_strings(value: Any, shown: str) -> None:
    assert describe_value(value) == shown


def test_lazy_objects_are_not_evaluated() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        return "loaded"

    lazy = SimpleLazyObject(load)
    assert describe_value(lazy) == "<SimpleLazyObject: not evaluated>"
    assert calls == []
    str(lazy)
    assert describe_value(lazy) == "'loaded'"


def test_a_value_whose_comparison_raises_is_still_rendered() -> None:
    class Spiteful:
        def __lt__(self, other: Any) -> bool:
            raise RuntimeError("no ordering")

        def __hash__(self) -> int:
            return 1

    assert describe_value({Spiteful(), Spiteful()}).startswith("{<tests.test_describe.")


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password1",
        "api_key",
        "AUTH_TOKEN",
        "secret",
        "credentials",
        "sessionid",
        "csrf_cookie",
    ],
)
def test_secret_looking_keys_are_masked(key: str) -> None:
    assert describe_kwarg(key, "hunter2") == MASK


def test_login_failed_credentials_are_masked_whole() -> None:
    assert user_login_failed is not None
    assert describe_kwarg("credentials", {"username": "ada", "password": "x"}) == MASK


def test_ordinary_keys_are_not_masked() -> None:
    assert describe_kwarg("created", True) == "True"
    assert describe_kwarg("update_fields", None) == "None"


def test_senders_are_named_by_model_label_class_path_or_value() -> None:
    assert describe_sender(BlogPost) == "testapp.BlogPost"
    assert describe_sender(None) == "None"
    assert describe_sender("app") == "'app'"
    assert describe_sender(Handler) == "tests.test_describe.Handler"


def test_template_senders_are_named_by_their_template() -> None:
    from django.template import engines
    from django.template.base import Template

    engine = engines["django"].engine
    assert describe_sender(Template("x", engine=engine, name="blog/done.html")) == (
        "Template 'blog/done.html'"
    )
    assert describe_sender(Template("x", engine=engine)) == "Template (from a string)"
