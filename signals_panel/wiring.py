"""Receivers connected right now, and those connected where Django never sends.

Read from ``Signal.receivers`` (``instrumentation.receiver_entries()``), never
by connecting anything. A model signal is sent with one kind of sender only:
``pre_save``/``post_save`` with the concrete (or proxy) class being saved,
``m2m_changed`` with the relation's through model. A receiver connected with
another sender is valid Python and never runs, silently: ``sender=Post`` or
``sender=Post.tags`` for ``m2m_changed`` (the sender is ``Post.tags.through``),
an abstract base class, a user model swapped out by ``AUTH_USER_MODEL``, or
``post_save`` of a table Django creates for a many-to-many field (its related
managers write it with ``bulk_create()``). ``never_sent()`` names each case
and its fix; the system check ``signals_panel.W001`` and the panel's
Receivers tab show them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from django.apps import apps
from django.db.models import Model
from django.db.models.base import ModelBase
from django.db.models.fields.related_descriptors import ManyToManyDescriptor
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_delete,
    pre_init,
    pre_save,
)
from django.dispatch import Signal
from django.dispatch.dispatcher import NONE_ID

from .describe import describe_callable, describe_sender, signal_names
from .instrumentation import receiver_entries

# The signals Django sends with a model class as sender.
MODEL_SIGNALS: tuple[Signal, ...] = (
    pre_init,
    post_init,
    pre_save,
    post_save,
    pre_delete,
    post_delete,
    m2m_changed,
)
# Most subclasses an abstract model's advice lists.
SUBCLASSES_LISTED = 5


class KnownSender(NamedTuple):
    """An object receivers are connected to, and how to write it in code."""

    sender: Any
    name: str
    # A many-to-many relation's through model (m2m_changed's sender).
    through: bool = False


class NeverSent(NamedTuple):
    """Why a (signal, sender) connection never runs, and what to connect."""

    why: str
    fix: str


def known_senders() -> dict[int, KnownSender]:
    """``id(sender) -> KnownSender`` for what receivers are connected to:
    models (auto-created through models and swapped-out ones included), the
    abstract models they inherit from or their apps' models modules define,
    their many-to-many descriptors (``Post.tags``) and app configs.

    Django's receiver entries hold the sender's id only (5.x): an id is
    matched to one of these objects, all alive while their apps are loaded.
    """
    found: dict[int, KnownSender] = {NONE_ID: KnownSender(None, "any sender")}
    for model in apps.get_models(include_auto_created=True, include_swapped=True):
        found[id(model)] = KnownSender(model, model._meta.label)
        for base in model.__mro__[1:]:
            if _is_abstract_model(base):
                found[id(base)] = KnownSender(base, base._meta.label)
        for attribute, value in vars(model).items():
            if isinstance(value, ManyToManyDescriptor):
                found[id(value)] = KnownSender(
                    value, f"{model._meta.label}.{attribute}"
                )
    for model in apps.get_models():
        for field in model._meta.local_many_to_many:
            known = found.get(id(field.remote_field.through))
            if known is not None:
                found[id(known.sender)] = known._replace(through=True)
    for config in apps.get_app_configs():
        found[id(config)] = KnownSender(config, f"app config {config.label}")
        for value in getattr(config.models_module, "__dict__", {}).values():
            if _is_abstract_model(value):
                found[id(value)] = KnownSender(value, value._meta.label)
    return found


def _is_abstract_model(value: Any) -> bool:
    meta = value.__dict__.get("_meta") if isinstance(value, ModelBase) else None
    return meta is not None and bool(meta.abstract)


def connected_receivers(
    signal: Signal, senders: dict[int, KnownSender] | None = None
) -> list[dict[str, Any]]:
    """Every live receiver of ``signal``, in connection order; for a model
    signal, ``never_sent`` says why Django never sends it with that sender
    and ``fix`` what to connect instead (both None when it does)."""
    if senders is None:
        senders = known_senders()
    # By identity: a Signal subclass's own __eq__ is not asked.
    model_signal = any(signal is each for each in MODEL_SIGNALS)
    found = []
    for entry in receiver_entries(signal):
        known = senders.get(entry.sender_id)
        # Django 6.x keeps the sender itself; 5.x its id only.
        sender = entry.sender if known is None else known.sender
        if known is not None:
            name = known.name
        elif sender is not None:
            name = describe_sender(sender)
        elif isinstance(entry.sender_id, int):
            name = f"object at {hex(entry.sender_id)}"
        else:  # a bound method's (id(self), id(function))
            name = "a bound method"
        dead = _never_sent_safely(signal, sender, senders) if model_signal else None
        receiver, where = describe_callable(entry.receiver)
        found.append(
            {
                "receiver": receiver,
                "where": where,
                "sender": name,
                "weak": entry.weak,
                "dispatch_uid": entry.key if isinstance(entry.key, str) else None,
                "is_async": entry.is_async,
                "never_sent": dead.why if dead else None,
                "fix": dead.fix if dead else None,
            }
        )
    return found


def dead_connections() -> Iterator[dict[str, Any]]:
    """Every receiver of a model signal connected with a sender Django never
    sends that signal with (``connected_receivers()`` entries, with the
    signal's names)."""
    senders = known_senders()
    for signal in MODEL_SIGNALS:
        name, short = signal_names.name(signal)
        for receiver in connected_receivers(signal, senders):
            if receiver["never_sent"]:
                yield {"signal": name, "signal_name": short, **receiver}


def _never_sent_safely(
    signal: Signal, sender: Any, senders: dict[int, KnownSender]
) -> NeverSent | None:
    if sender is None:
        return None
    try:
        return never_sent(signal, sender, senders)
    except Exception:  # an unusual model: not judged, never the page's end
        return None


def never_sent(
    signal: Signal, sender: Any, senders: dict[int, KnownSender]
) -> NeverSent | None:
    """Why Django never sends model signal ``signal`` with ``sender``, and
    the sender to connect instead; None when it may."""
    signal_name = signal_names.name(signal)[1]
    if isinstance(sender, ManyToManyDescriptor):
        # "app.Model.field" as known, "Model.field" as code.
        code = _name(sender, senders).split(".", 1)[-1]
        if signal is m2m_changed:
            return NeverSent(
                f"{code} is the field's descriptor: Django sends m2m_changed with "
                "the relation's through model.",
                f"Connect it with sender={code}.through.",
            )
        return NeverSent(
            f"{code} is a field's descriptor: Django sends {signal_name} with a "
            "model class.",
            f"To follow the relation's changes, connect it to m2m_changed with "
            f"sender={code}.through.",
        )
    if not isinstance(sender, ModelBase) or sender is Model:
        return None
    meta = sender._meta
    if meta.abstract:
        return _abstract(sender, signal_name)
    if meta.swapped:
        return NeverSent(
            f"{meta.label} is swapped out for {meta.swapped}: Django never builds, "
            "saves or deletes it.",
            f'Connect it with sender="{meta.swapped}" (settings.AUTH_USER_MODEL '
            "for the user model, or get_user_model()).",
        )
    known = senders.get(id(sender))
    if signal is m2m_changed and not (known is not None and known.through):
        return NeverSent(
            f"{meta.label} is not a through model: Django sends m2m_changed with "
            "the through model of the relation that changed.",
            _through_advice(sender),
        )
    if signal in (pre_save, post_save) and meta.auto_created:
        relation = _relation_creating(sender)
        return NeverSent(
            f"{meta.label} is the table Django made for a many-to-many field: its "
            f"related managers write it with bulk_create(), which sends no "
            f"{signal_name}.",
            f"Connect it to m2m_changed with sender={relation}."
            if relation
            else "Connect it to m2m_changed with that relation's through model.",
        )
    return None


def _name(sender: Any, senders: dict[int, KnownSender]) -> str:
    known = senders.get(id(sender))
    return known.name if known is not None else describe_sender(sender)


def _abstract(model: ModelBase, signal_name: str) -> NeverSent:
    subclasses = [
        each._meta.label for each in apps.get_models() if issubclass(each, model)
    ]
    listed = ", ".join(subclasses[:SUBCLASSES_LISTED])
    if len(subclasses) > SUBCLASSES_LISTED:
        listed += f" and {len(subclasses) - SUBCLASSES_LISTED} more"
    name = model.__name__
    return NeverSent(
        f"{model._meta.label} is abstract: Django sends {signal_name} with the "
        "concrete (or proxy) class of the instance, never an abstract base.",
        f"Connect it without sender= and test issubclass(sender, {name}) in the "
        "receiver, or connect it once for each concrete subclass"
        + (f" ({listed})." if listed else "."),
    )


def _through_advice(model: ModelBase) -> str:
    """The through models of ``model``'s many-to-many relations, as code."""
    meta = model._meta
    name = meta.object_name
    relations = [f"{name}.{field.name}.through" for field in meta.many_to_many]
    relations += [
        f"{name}.{accessor}.through"
        for related in meta.related_objects
        # A relation hidden by related_name="+" has no accessor on this side
        # (its name for one ends with "+").
        if related.many_to_many
        and (accessor := related.get_accessor_name())
        and not accessor.endswith("+")
    ]
    if not relations:
        return (
            "Connect it with the through model of the relation it should follow "
            f"({name} has no many-to-many field or accessor to name it by)."
        )
    return f"Connect it with sender={' or '.join(relations)}."


def _relation_creating(through: ModelBase) -> str | None:
    """``Post.tags.through`` for the auto-created through model of Post.tags."""
    owner = through._meta.auto_created
    if not isinstance(owner, ModelBase):
        return None
    for field in owner._meta.local_many_to_many:
        if field.remote_field.through is through:
            return f"{owner._meta.object_name}.{field.name}.through"
    return None
