"""Names for signals, senders and receivers, and safe renderings of values.

Everything here runs at dispatch time on objects that belong to the user's
request. The rules: never evaluate anything that could query the database
(a model's ``__str__``, a lazy object, a queryset), never let a ``repr`` raise
into the caller, keep every string short, and mask values whose key looks
secret.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import functools
import inspect
import itertools
import os
import pathlib
import re
import sys
import sysconfig
import threading
import types
import uuid
import weakref
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import asgiref.sync
from django.db.models import Model
from django.db.models.query import QuerySet
from django.dispatch import Signal
from django.http import HttpRequest
from django.template.base import Template
from django.utils.functional import LazyObject, Promise, empty

# Where sync code called through sync_to_async starts in its worker thread.
_THREAD_HANDLER = asgiref.sync.SyncToAsync.thread_handler.__code__
MASK = "********************"
# Django's SafeExceptionReporterFilter hides settings matching this pattern;
# signal kwargs get the same treatment, plus "credentials" (user_login_failed).
SECRET_KEY_PATTERN = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|CREDENTIAL|SESSION",
    flags=re.IGNORECASE,
)
# Containers show at most this many items; nested containers this deep.
MAX_ITEMS = 10
MAX_DEPTH = 2
# Sets and frozensets up to this size are shown sorted; bigger ones in their
# own order (sorting them would cost more than the dispatch).
MAX_SORTED = 1_000
# Keyword names are shown up to this length.
MAX_KEY_LENGTH = 100

# Types whose repr() is defined by the standard library: cheap and safe.
_SAFE_REPR_TYPES: tuple[type, ...] = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
    decimal.Decimal,
    uuid.UUID,
    pathlib.PurePath,
    range,
    slice,
)


def cut(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def describe_value(value: Any, limit: int = 200) -> str:
    """Render ``value`` as a short string without side effects.

    Never raises: a value that cannot be rendered safely is shown by its type.
    """
    try:
        return cut(_render(value, MAX_DEPTH), limit)
    except Exception:  # a hostile __eq__, __len__ or property
        return f"<unrepresentable {_type_name(type(value))}>"


# Keyword names found not to look secret: a dispatch's names are few and
# recur, and one set lookup spares them the pattern.
_open_keys: set[str] = set()


def _is_secret_key(key: str) -> bool:
    if SECRET_KEY_PATTERN.search(key) is not None:
        return True
    if len(_open_keys) < 10_000 and len(key) <= MAX_KEY_LENGTH:
        _open_keys.add(key)
    return False


def describe_kwarg(key: str, value: Any, limit: int = 200) -> str:
    """Render one keyword argument of a dispatch, masking secret-looking keys."""
    return describe_kwargs({key: value}, None, limit)[key]


def describe_kwargs(
    named: dict[str, Any], skip: str | None, limit: int = 200
) -> dict[str, str]:
    """``describe_kwarg()`` of each item but ``skip``: one call per dispatch."""
    described: dict[str, str] = {}
    open_keys = _open_keys
    for key, value in named.items():
        if key == skip:
            continue
        if key not in open_keys:  # first seen, secret, or too long to keep
            if _is_secret_key(key):
                described[cut(key, MAX_KEY_LENGTH)] = MASK
                continue
            key = cut(key, MAX_KEY_LENGTH)
        if value is None:
            described[key] = "None"
        elif value is True or value is False:
            described[key] = "True" if value else "False"
        elif type(value) is str and len(value) <= 64:
            # What _render() and cut() would make of it, without the calls.
            text = repr(value)
            described[key] = text if len(text) <= limit else cut(text, limit)
        else:
            described[key] = describe_value(value, limit)
    return described


# type's own getters: a metaclass's properties of the same names (user code)
# are not called.
_qualname_of = type.__dict__["__qualname__"].__get__
_module_of = type.__dict__["__module__"].__get__
_dict_of = type.__dict__["__dict__"].__get__


def _type_name(cls: type) -> str:
    """``module.Qualname`` of a class, without running any code of its own."""
    try:
        name: str = _qualname_of(cls)
        module = _module_of(cls)
    except Exception:  # not a class after all
        return "?"
    if type(module) is not str or module == "builtins":
        return name
    return f"{module}.{name}"


def is_class(value: Any) -> bool:
    """``isinstance(value, type)`` without reading ``value.__class__`` (a lazy
    object's would evaluate it)."""
    return issubclass(type(value), type)


def _render(value: Any, depth: int) -> str:
    # type() never triggers a lazy object's evaluation; isinstance() would,
    # because it reads __class__.
    cls = type(value)
    if value is None or cls in (bool, int, float, complex):
        return repr(value)
    if cls is str:
        return repr(value[:4096])
    if cls in (bytes, bytearray, memoryview):
        return _render_bytes(value)
    if issubclass(cls, LazyObject):
        return _render_lazy(value, depth)
    if issubclass(cls, Promise):
        return "<lazy translation>"
    if issubclass(cls, Model):
        return describe_instance(value)
    if issubclass(cls, type):
        return describe_class(value)
    if issubclass(cls, QuerySet):
        return f"<QuerySet {describe_class(value.model)}>"
    if issubclass(cls, HttpRequest):
        return f"<{cls.__name__} {value.method} {cut(str(value.path), 100)!r}>"
    if issubclass(cls, BaseException):
        return describe_exception(value)
    if issubclass(cls, enum.Enum):
        return f"{cls.__qualname__}.{value.name}"
    if cls in (list, tuple, set, frozenset, dict):
        return _render_container(value, depth)
    if issubclass(cls, _SAFE_REPR_TYPES):
        return repr(value)
    if callable(value) and hasattr(value, "__code__"):
        return describe_callable(value)[0]
    if cls is _Masked:
        return MASK
    return f"<{_type_name(cls)} object>"


class _Masked:
    """Stands in for a secret value inside a container being rendered."""


_MASKED = _Masked()


def describe_init_args(model: Any, args: Any, init_kwargs: Any, limit: int) -> str:
    """pre_init's ``args``: the field values ``Model.__init__`` takes by
    position (``Model.from_db()`` passes every loaded field so), each one
    masked whose field name looks secret (a password hash, a token)."""
    if model_facts(model) is None or type(args) is not tuple:
        return describe_value(args, limit)
    try:
        meta = model._meta
        fields = meta.fields if init_kwargs else meta.concrete_fields
        secret = {
            index
            for index, field in enumerate(fields[: len(args)])
            if SECRET_KEY_PATTERN.search(field.attname)
        }
    except Exception:
        return describe_value(args, limit)
    shown = tuple(
        _MASKED if index in secret else value for index, value in enumerate(args)
    )
    return describe_value(shown, limit)


def _render_bytes(value: bytes | bytearray | memoryview) -> str:
    data = bytes(value[:32])
    suffix = f"… ({len(value)} bytes)" if len(value) > 32 else ""
    return repr(data) + suffix


def _render_lazy(value: LazyObject, depth: int) -> str:
    wrapped = value.__dict__.get("_wrapped", empty)
    if wrapped is empty:
        # Evaluating it could query the database (request.user does).
        return f"<{type(value).__name__}: not evaluated>"
    return _render(wrapped, depth)


def _render_container(value: Any, depth: int) -> str:
    cls = type(value)
    if depth <= 0:
        return f"<{cls.__name__} of {len(value)}>"
    if cls is dict:
        items = []
        for index, (key, item) in enumerate(value.items()):
            if index == MAX_ITEMS:
                items.append(f"… +{len(value) - MAX_ITEMS}")
                break
            shown = (
                MASK
                if isinstance(key, str) and SECRET_KEY_PATTERN.search(key)
                else _render(item, depth - 1)
            )
            items.append(f"{_render(key, depth - 1)}: {shown}")
        return "{" + ", ".join(items) + "}"
    size = len(value)
    first = value[:MAX_ITEMS] if cls in (list, tuple) else _first_of_set(value, size)
    parts = [_render(item, depth - 1) for item in first]
    if size > MAX_ITEMS:
        parts.append(f"… +{size - MAX_ITEMS}")
    body = ", ".join(parts)
    if cls is list:
        return f"[{body}]"
    if cls is tuple:
        return f"({body},)" if size == 1 else f"({body})"
    if cls is frozenset:
        return f"frozenset({{{body}}})" if size else "frozenset()"
    return "{" + body + "}" if size else "set()"


def _first_of_set(items: set[Any] | frozenset[Any], size: int) -> list[Any]:
    """The items a set shows: its first ``MAX_ITEMS`` in sorted order when it
    is small enough to sort and orderable, else in its own order."""
    if size <= MAX_SORTED:
        try:
            return sorted(items)[:MAX_ITEMS]
        except Exception:  # unorderable, or an ordering that raises
            pass
    return list(itertools.islice(items, MAX_ITEMS))


def describe_class(cls: type) -> str:
    """``app_label.Model`` for models, ``module.Qualname`` for other classes."""
    facts = model_facts(cls)
    if facts is not None:
        return facts.label
    meta = cls.__dict__.get("_meta") if issubclass(cls, Model) else None
    label = getattr(meta, "label", None)  # an abstract model's
    return label if type(label) is str else _type_name(cls)


def describe_instance(instance: Model) -> str:
    """``blog.Post pk=12`` (or ``blog.Post (unsaved)``), without calling __str__."""
    label = type(instance)._meta.label
    pk = instance.pk
    if pk is None:
        return f"{label} (unsaved)"
    return f"{label} pk={pk_text(pk)}"


def tables_to_labels() -> dict[str, list[str]]:
    """Database table -> the concrete labels of the models seen so far that
    write it (models may share one)."""
    labels: dict[str, list[str]] = {}
    for _, facts in list(_model_cache.values()):
        # A multi-table child's writes name its ancestors' tables too.
        for table, label in facts.rows:
            known = labels.setdefault(table, [])
            if label not in known:
                known.append(label)
    return labels


def pk_text(pk: Any) -> str:
    """A primary key value as text, at most 40 characters; never raises (a
    key type's own ``__str__`` is not called)."""
    if type(pk) in (int, str, uuid.UUID):
        return cut(str(pk), 40)
    return describe_value(pk, 40)


class ModelFacts(NamedTuple):
    """What a recording needs of a model class, worked out once per class."""

    label: str
    concrete_label: str
    pk_attname: str
    # (table, concrete label) of each row a save writes, with the database
    # alias and its primary key value: its own table's (a proxy shares its
    # concrete model's), then each multi-table-inheritance ancestor's.
    rows: tuple[tuple[str, str], ...]
    # Multi-table inheritance only (else None): the names and attnames of
    # each of those tables' own fields, in the same order (a save with
    # update_fields writes only the tables those name).
    fields: tuple[frozenset[str], ...] | None = None


def model_facts(cls: Any) -> ModelFacts | None:
    """The ``ModelFacts`` of a model class, cached while the class lives;
    None for anything else."""
    # A hit needs no identity check: entries go with their class.
    entry = _model_cache.get(id(cls))
    if entry is not None:
        facts: ModelFacts = entry[1]
        return facts
    if not (is_class(cls) and issubclass(cls, Model)):
        return None
    # Model itself has no _meta, an abstract model no table and no key.
    meta: Any = cls.__dict__.get("_meta")
    if meta is None or meta.abstract or meta.pk is None:
        return None
    concrete = meta.concrete_model._meta
    # (table, label, own fields) of each row a save writes, its own first.
    chain = (
        (meta.db_table, concrete.label, _own_fields(concrete)),
        *_parent_tables(meta),
    )
    facts = ModelFacts(
        meta.label,
        concrete.label,
        meta.pk.attname,
        tuple((table, label) for table, label, _ in chain),
        tuple(fields for _, _, fields in chain) if len(chain) > 1 else None,
    )
    remember_weakly(_model_cache, cls, facts)
    return facts


def _parent_tables(meta: Any) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(table, label, own field names) of the ancestors a save of the model
    also writes with its own primary key value: followed up the chain of
    parent links that are primary keys (Django's default ``<parent>_ptr``)."""
    found: list[tuple[str, str, frozenset[str]]] = []
    try:
        meta = meta.concrete_model._meta
        while True:
            link = meta.pk
            parent = link.remote_field.model if link.remote_field else None
            if parent is None or not link.remote_field.parent_link:
                break
            meta = parent._meta
            found.append(
                (meta.db_table, meta.concrete_model._meta.label, _own_fields(meta))
            )
    except Exception:  # an unusual model: its own table only
        return ()
    return tuple(found)


def _own_fields(meta: Any) -> frozenset[str]:
    """Names and attnames of the fields a table of its own holds, but its
    primary key (``save(update_fields=...)`` never updates that)."""
    return frozenset(
        name
        for field in meta.local_concrete_fields
        if not field.primary_key
        for name in (field.name, field.attname)
    )


def primary_key(instance: Any, attname: str) -> Any:
    """``instance.pk``, read from the instance's ``__dict__`` when it is
    there (a composite key is not), without ``Model.pk``'s two calls."""
    pk = instance.__dict__.get(attname, _MISSING)
    return instance.pk if pk is _MISSING else pk


def tables_written(model: ModelFacts, named: dict[str, Any]) -> Any:
    """The (table, label) rows a save of a multi-table model writes, from a
    save signal's arguments: a ``raw`` save (a fixture) writes its own table
    only; with ``update_fields``, only the tables holding one of those."""
    if model.fields is None:
        return model.rows
    if named.get("raw") is True:
        return model.rows[:1]
    update_fields = named.get("update_fields")
    if not update_fields:
        return model.rows
    return [
        row
        for row, fields in zip(model.rows, model.fields, strict=True)
        if not fields.isdisjoint(update_fields)
    ]


# Values whose == is Python's or Django's own, never a user's: a receiver
# assigning an equal value of one of these types has changed nothing.
_COMPARED_BY_VALUE = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
    }
)


def fields_left_unsaved(
    instance: Any, before: dict[str, Any], update_fields: Any
) -> list[str]:
    """The names of the fields of ``instance`` that changed since its
    ``__dict__`` was ``before`` and that ``update_fields`` leaves out: a
    ``pre_save`` receiver's changes the save will not write.

    Only fields loaded before and after count (a deferred field loaded by the
    receiver is not a change). A value is changed when it is another object
    and, for plain values, not an equal one.
    """
    if not isinstance(instance, Model):  # a pre_save sent by hand
        return []
    after = instance.__dict__
    changed = []
    for field in type(instance)._meta.concrete_fields:
        if field.primary_key or field.name in update_fields:
            continue
        attname = field.attname
        if attname in update_fields:
            continue
        old = before.get(attname, _MISSING)
        new = after.get(attname, _MISSING)
        if old is new or old is _MISSING or new is _MISSING:
            continue
        if type(old) in _COMPARED_BY_VALUE and type(new) is type(old) and old == new:
            continue
        changed.append(field.name)
    return changed


def describe_target(
    instance: Any, using: Any = None, named: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The row a model signal is about, for display and for detectors;
    ``using``: the signal's database alias (``pre_save`` of
    ``save(using="other")`` still has the instance's ``_state.db``);
    ``named``: the signal's arguments (``raw``, ``update_fields`` may leave a
    multi-table child's ancestors' rows unwritten)."""
    facts = model_facts(type(instance))
    if facts is None:
        return None
    pk = primary_key(instance, facts.pk_attname)
    target = {
        "model": facts.label,
        "concrete_model": facts.concrete_label,
        "pk": None if pk is None else pk_text(pk),
        "db": using if type(using) is str else instance._state.db,
        # Ties pre_save of an unsaved object to its post_save (pk None then).
        "object": hex(id(instance)),
    }
    if facts.fields is not None:  # a multi-table child: its ancestors' rows
        written = tables_written(facts, named or {})
        target["parents"] = [row[1] for row in facts.rows[1:] if row in written]
    return target


def describe_sender(sender: Any) -> str:
    """A short name for a dispatch's sender (usually a model class)."""
    if sender is None:
        return "None"
    try:
        if is_class(sender):
            return describe_class(sender)
    except Exception:  # a class whose metaclass misbehaves
        return f"<class {_type_name(sender)}>"
    if type(sender) is Template:  # template_rendered's sender: by its name
        name = sender.__dict__.get("name")
        if type(name) is str:
            return f"Template {cut(repr(name), 118)}"
        return "Template (from a string)"
    return describe_value(sender, 120)


# Exception arguments ``str()`` turns into text without calling user code.
_PLAIN_ARGUMENT_TYPES = (str, int, float, bool, type(None), bytes)


def describe_exception(error: BaseException) -> str:
    """``ValueError: message``; the message is cut and never raises.

    ``str(error)`` only where it cannot run the user's code (a model's
    ``__str__`` may query the database, any may hang): for Python's and
    Django's exception classes whose arguments are plain values. Otherwise
    the arguments are rendered as values are.
    """
    cls = type(error)
    name = _type_name(cls)
    try:
        args = error.args
        if _str_is_trusted(cls, args):
            message = str(error)
        elif len(args) == 1 and type(args[0]) is str:
            message = args[0]
        elif args:
            message = describe_value(args[0] if len(args) == 1 else args, 300)
        else:
            message = ""
    except Exception:
        message = "<unprintable message>"
    return cut(f"{name}: {message}" if message else name, 300)


def _str_is_trusted(cls: type, args: tuple[Any, ...]) -> bool:
    """Whether ``str()`` of an exception runs only Python's or Django's own
    code on plain values (Django's ``ValidationError`` formats its params
    into its messages: one that is a model would run its ``__str__``)."""
    for klass in cls.__mro__:
        if "__str__" in klass.__dict__:
            module = _module_of(klass)
            if module == "builtins":
                return all(type(arg) in _PLAIN_ARGUMENT_TYPES for arg in args)
            return (
                type(module) is str
                and module.startswith("django.")
                and _plain(args, MAX_DEPTH + 1)
            )
    return False


def _plain(value: Any, depth: int) -> bool:
    """A plain value, or lists, tuples and dicts of them ``depth`` deep."""
    cls = type(value)
    if cls in _PLAIN_ARGUMENT_TYPES:
        return True
    if depth <= 0 or cls not in (list, tuple, dict):
        return False
    items = [*value.keys(), *value.values()] if cls is dict else value
    return len(items) <= 100 and all(_plain(item, depth - 1) for item in items)


# ---------------------------------------------------------------------------
# Code locations


def _library_prefixes() -> tuple[str, ...]:
    import asgiref
    import debug_toolbar
    import django

    prefixes = {
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["platstdlib"],
        os.path.dirname(django.__file__),
        os.path.dirname(asgiref.__file__),
        os.path.dirname(debug_toolbar.__file__),
        os.path.dirname(__file__),
    }
    for name in ("_pytest", "pluggy", "pytest_django"):
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if filename:
            prefixes.add(os.path.dirname(filename))
    return tuple(os.path.normcase(os.path.realpath(p)) + os.sep for p in prefixes)


def _machinery_prefixes() -> tuple[str, ...]:
    """Where the code between a caller and a signal runs: the ORM, the
    dispatcher, request handling and servers, this package, the standard
    library, asgiref; the fallback send site is past them."""
    import asgiref
    import django

    django_dir = os.path.dirname(django.__file__)
    prefixes = {
        # The standard library's own directory (sysconfig's "stdlib" of a
        # virtualenv holds site-packages).
        os.path.dirname(os.__file__),
        os.path.dirname(asyncio.__file__),
        os.path.dirname(asgiref.__file__),
        os.path.dirname(__file__),
        *(
            os.path.join(django_dir, *part.split("/"))
            for part in ("db", "dispatch", "core/handlers", "core/servers", "utils")
        ),
    }
    return tuple(os.path.normcase(os.path.realpath(p)) + os.sep for p in prefixes)


def _installed(real: str, machinery: tuple[str, ...]) -> bool:
    """Whether a file is an installed package's, under the standard
    library's directory (site-packages) but not under the parts of Django
    and asgiref that ``machinery`` names."""
    for marker in ("site-packages", "dist-packages"):
        if f"{os.sep}{marker}{os.sep}" in real:
            return not any(
                marker in prefix and real.startswith(prefix) for prefix in machinery
            )
    return False


# A frame's code and last instruction offset: what a recording keeps of a
# call site (the line number is worked out when it is formatted).
Site = tuple[types.CodeType, int]


class CodeLocator:
    """Turns code objects into short ``path:line`` strings, with caches.

    A frame belongs to "library" code when its file is in the standard
    library, Django, asgiref, the toolbar, pytest or this package; the send
    site of a dispatch is the innermost frame that is not.
    """

    def __init__(self) -> None:
        self._prefixes: tuple[str, ...] | None = None
        self._roots: tuple[str, ...] | None = None
        # Keyed by id(): hashing a code object hashes its constants, nested
        # code objects included, on every lookup. Each entry holds its code
        # object, so the id cannot be reused by another while cached.
        self._code_info: dict[int, tuple[types.CodeType, bool, str]] = {}
        self._library_codes: dict[int, types.CodeType] = {}
        self._user_codes: dict[int, types.CodeType] = {}
        self._formatted: dict[tuple[int, int], tuple[types.CodeType, str]] = {}
        self._machinery: tuple[str, ...] | None = None
        self._machinery_files: dict[str, bool] = {}

    def _setup(self) -> None:
        from django.conf import settings

        self._prefixes = _library_prefixes()
        roots = []
        base_dir = getattr(settings, "BASE_DIR", None)
        if base_dir:
            roots.append(str(base_dir))
        roots.append(os.getcwd())
        self._roots = tuple(
            os.path.normcase(os.path.realpath(root)) + os.sep for root in roots
        )

    def info(self, code: types.CodeType) -> tuple[bool, str]:
        """``(is_library, short_path)`` for a code object."""
        cached = self._code_info.get(id(code))
        if cached is not None and cached[0] is code:
            return cached[1], cached[2]
        if self._prefixes is None:
            self._setup()
        filename = code.co_filename
        real = os.path.normcase(os.path.realpath(filename))
        assert self._prefixes is not None and self._roots is not None
        is_library = filename.startswith("<") or real.startswith(self._prefixes)
        path = self.short_path(real)
        if len(self._code_info) < 50_000:
            self._code_info[id(code)] = (code, is_library, path)
            # The thread handler of sync_to_async is where frames() turns
            # to the awaiting coroutine: it must not be skipped as library.
            if not is_library:
                self._user_codes[id(code)] = code
            elif code is not _THREAD_HANDLER:
                self._library_codes[id(code)] = code
        return is_library, path

    def short_path(self, path: str) -> str:
        if self._roots is None:
            self._setup()
        assert self._roots is not None
        # Installed packages first: a virtualenv often lives in the project.
        marker = f"{os.sep}site-packages{os.sep}"
        if marker in path:
            return path.split(marker, 1)[1].replace(os.sep, "/")
        for root in self._roots:
            if path.startswith(root):
                return path[len(root) :].replace(os.sep, "/")
        return path.replace(os.sep, "/")

    def frames(self, frame: types.FrameType | None, depth: int = 1) -> list[Site]:
        """The ``depth`` innermost non-library frames, as ``(code, line)``.

        Sync code run by ``sync_to_async`` (``await Post.objects.acreate()``)
        has no caller frames in its worker thread: the walk goes on in the
        coroutine that awaits it. Formatting waits for ``format()``: a
        recording keeps code objects and line numbers, nothing else.
        """
        found: list[Site] = []
        library, user = self._library_codes, self._user_codes
        start = frame
        # A plain loop, not a generator: this runs for every stored dispatch.
        while frame is not None and len(found) < depth:
            code = frame.f_code
            known = id(code)
            if library.get(known) is not code:  # library code is passed by
                if code is _THREAD_HANDLER:
                    return self._awaiting_sites(frame, found, depth)
                if user.get(known) is code or not self.info(code)[0]:
                    found.append((code, frame.f_lasti))
            frame = frame.f_back
        if not found:
            return self._fallback(start)
        return found

    def _fallback(self, frame: types.FrameType | None) -> list[Site]:
        """With no frame of the project's on the stack (the admin saving an
        object under runserver, a management command), the innermost one
        past the ORM, the dispatcher and the servers: Django's code that
        made the call (``django/contrib/admin/options.py:… in save_model``)."""
        if self._machinery is None:
            self._machinery = _machinery_prefixes()
        machinery, known = self._machinery, self._machinery_files
        while frame is not None:
            filename = frame.f_code.co_filename
            inside = known.get(filename)
            if inside is None:
                real = os.path.normcase(os.path.realpath(filename))
                inside = filename.startswith("<") or (
                    real.startswith(machinery) and not _installed(real, machinery)
                )
                if len(known) < 10_000:
                    known[filename] = inside
            if not inside:
                return [(frame.f_code, frame.f_lasti)]
            frame = frame.f_back
        return []

    def _awaiting_sites(
        self, handler: types.FrameType, found: list[Site], depth: int
    ) -> list[Site]:
        """``frames()`` gone on in the coroutine that awaits ``handler``."""
        for frame in _awaiting_frames(handler):
            if len(found) >= depth:
                break
            code = frame.f_code
            if code is _THREAD_HANDLER:  # that coroutine ran in a worker too
                return self._awaiting_sites(frame, found, depth)
            if not self.info(code)[0]:
                found.append((code, frame.f_lasti))
        return found

    def first_site(self, frame: types.FrameType | None) -> Site | None:
        """``frames(frame)[0]``, or None: for the hot path (every write).

        Walks frames whose code is already known here; anything else (new
        code, the sync_to_async hop) goes to ``frames()``.
        """
        known = self._code_info
        start = frame
        while frame is not None:
            code = frame.f_code
            entry = known.get(id(code))
            if entry is None or entry[0] is not code or code is _THREAD_HANDLER:
                found = self.frames(frame)
                return found[0] if found else None
            if not entry[1]:
                return (code, frame.f_lasti)
            frame = frame.f_back
        found = self.frames(start)  # no frame of the project's: the fallback
        return found[0] if found else None

    def format(self, site: Site) -> str:
        """``path:line in function`` for one frame found by ``frames()``."""
        code, offset = site
        key = (id(code), offset)
        cached = self._formatted.get(key)
        if cached is not None and cached[0] is code:
            return cached[1]
        text = f"{self.info(code)[1]}:{_line_at(code, offset)} in {code.co_name}"
        if len(self._formatted) < 50_000:
            self._formatted[key] = (code, text)
        return text

    def send_site(self, frame: types.FrameType | None, depth: int = 1) -> list[str]:
        """``frames()``, formatted."""
        return [self.format(site) for site in self.frames(frame, depth)]


def _line_at(code: types.CodeType, offset: int) -> int:
    """The source line of the instruction at ``offset`` (``frame.f_lasti``)."""
    line = None
    for start, end, number in code.co_lines():
        if start <= offset < end:
            line = number
            break
    return line if line is not None else code.co_firstlineno


def _awaiting_frames(handler: types.FrameType) -> list[types.FrameType]:
    """The await chain, innermost first, of the task waiting for ``handler``."""
    func = handler.f_locals.get("func")
    loop = handler.f_locals.get("loop")
    if func is None or loop is None:
        return []
    try:
        tasks = list(asyncio.all_tasks(loop))
    except RuntimeError:  # the loop's task set changed while copying it
        return []
    for task in tasks:
        chain = _await_chain(task.get_coro())
        for frame in chain:
            if (
                frame.f_code.co_name == "__call__"
                and frame.f_locals.get("func") is func
            ):
                return list(reversed(chain))
    return []


def _await_chain(coro: Any) -> list[types.FrameType]:
    chain: list[types.FrameType] = []
    while coro is not None and len(chain) < 200:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            chain.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


locator = CodeLocator()


# ---------------------------------------------------------------------------
# Callables


# id(callable) -> (weak reference to it, description). Keyed by id, not by
# the object: a callable object's own __eq__/__hash__ must not be called,
# and a WeakKeyDictionary lookup makes a new weak reference every time.
_callable_cache: dict[int, tuple[weakref.ref[Any], tuple[str, str | None]]] = {}
# id(model class) -> (weak reference, ModelFacts).
_model_cache: dict[int, tuple[weakref.ref[Any], ModelFacts]] = {}
_MISSING = object()
MAX_CACHED_CALLABLES = 10_000


def _cached(cache: dict[int, Any], key: Any) -> Any:
    entry = cache.get(id(key))
    if entry is not None and entry[0]() is key:
        return entry[1]
    return None


def remember_weakly(cache: dict[int, Any], key: Any, value: Any) -> None:
    """``cache[id(key)] = (weak reference to key, value)`` while ``key`` lives.

    The entry goes when ``key`` does, before its id can be reused, so a hit
    is ``key``'s own. Nothing is cached past ``MAX_CACHED_CALLABLES`` entries
    or for an object that cannot be weakly referenced.
    """
    if len(cache) >= MAX_CACHED_CALLABLES:
        return
    ident = id(key)

    def forget(_: weakref.ref[Any]) -> None:
        cache.pop(ident, None)

    try:
        reference = weakref.ref(key, forget)
    except TypeError:  # not weak-referenceable: worked out each time
        return
    cache[ident] = (reference, value)


def describe_receiver(func: Any) -> tuple[str, str | None, str]:
    """``(module.qualname, "path:line", kind)`` of a receiver."""
    if type(func) is types.FunctionType:  # most receivers: one cache lookup
        cached = _cached(_callable_cache, func)
        if cached is not None:
            return cached[0], cached[1], "function"
    name, where = describe_callable(func)
    return name, where, receiver_kind(func)


def describe_callable(func: Any) -> tuple[str, str | None]:
    """``(module.qualname, "path:line")`` for any kind of receiver.

    Handles plain and async functions, lambdas, bound methods (named after the
    function, not the instance), ``functools.partial`` (named ``partial(...)``),
    callable objects (their class's ``__call__``) and decorated functions
    (``__wrapped__`` is followed for the location).
    """
    try:
        key = getattr(func, "__func__", func)
    except Exception:  # a __getattr__ that raises other than AttributeError
        key = func
    cached = _cached(_callable_cache, key)
    if cached is not None:
        return cached
    try:
        result = _describe_callable(func)
    except Exception:
        result = (f"<{_type_name(type(func))} object>", None)
    remember_weakly(_callable_cache, key, result)
    return result


def _describe_callable(func: Any) -> tuple[str, str | None]:
    if isinstance(func, functools.partial):
        inner_name, where = describe_callable(func.func)
        return f"partial({inner_name})", where
    if inspect.ismethod(func):
        function = func.__func__
        return _qualified_name(function), _where(function)
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        return _qualified_name(func), _where(func)
    if is_class(func):  # a class as receiver: each dispatch makes an instance
        return _type_name(func), _where(getattr(func, "__init__", None))
    cls = type(func)
    try:
        own_name = getattr(func, "__qualname__", None)
    except Exception:  # a __getattr__ that raises other than AttributeError
        own_name = None
    if type(own_name) is str and own_name != _qualname_of(cls):
        # A function of another kind (compiled by Cython, say): its own name.
        return _qualified_name(func), _where(func)
    # A callable object: name the instance's class, locate its __call__.
    call = getattr(cls, "__call__", None)  # noqa: B004
    return _type_name(cls), _where(call) if call is not None else None


def _qualified_name(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None) or "?"
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", "?")
    return f"{module}.{name}"


def _where(func: Any) -> str | None:
    func = inspect.unwrap(func) if callable(func) else func
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    _, path = locator.info(code)
    return f"{path}:{code.co_firstlineno}"


# ---------------------------------------------------------------------------
# Signals


class SignalNames:
    """Finds the dotted name a signal object is reachable by.

    Signals are plain objects without a name; the name users know is where the
    module-level assignment lives (``django.db.models.signals.post_save``). A
    scan of loaded modules finds every module-level reference; when a signal
    is imported into several modules, the one that assigns it in its source
    wins over the ones that import it.
    """

    def __init__(self) -> None:
        # id(signal) -> (what holds the signal, dotted name, short name): by
        # identity, since a Signal subclass need not be hashable. Weakly held
        # where the signal allows it (the entry goes with it).
        self._names: dict[int, tuple[Any, str, str]] = {}
        self._scanned_modules = -1
        self._scanned_classes = -1
        # Requests in several threads may ask at once: one scan at a time, and
        # a signal is only called anonymous once a finished scan missed it.
        self._lock = threading.Lock()

    def name(self, signal: Signal) -> tuple[str, str]:
        """``(dotted_name, short_name)`` of ``signal``."""
        found = self._known(signal)
        if found is not None:
            return found
        with self._lock:
            if len(sys.modules) != self._scanned_modules:
                self._scan()
            found = self._known(signal)
            if found is None and len(sys.modules) != self._scanned_classes:
                # Not module-level: maybe a class attribute (the toolbar's
                # DebugToolbar._created). Looked for only when a signal is
                # missed, being the slower scan.
                self._scan_classes()
                found = self._known(signal)
        if found is None:
            # Not module- or class-level (or not imported yet): a label, not
            # cached, so a later scan can still find its name.
            found = (f"{_type_name(type(signal))} at {hex(id(signal))}", "signal")
        return found

    def all_signals(self) -> list[tuple[str, str, Signal]]:
        """Every module-level signal of the loaded modules, by dotted name."""
        with self._lock:
            if len(sys.modules) != self._scanned_modules:
                self._scan()
            entries = list(self._names.values())
        found = []
        for held, name, short in entries:
            signal = held() if type(held) is weakref.ref else held
            if signal is not None:
                found.append((name, short, signal))
        return sorted(found, key=lambda entry: entry[0])

    def _known(self, signal: Signal) -> tuple[str, str] | None:
        # An entry goes with its signal, before the id can be reused.
        entry = self._names.get(id(signal))
        return None if entry is None else (entry[1], entry[2])

    def _scan(self) -> None:
        candidates: dict[int, tuple[Signal, list[tuple[str, str]]]] = {}
        modules = list(sys.modules.items())
        for module_name, namespace in _namespaces(modules):
            for attribute, value in list(namespace.items()):
                # type(), not isinstance(): the latter evaluates lazy objects.
                if issubclass(type(value), Signal):
                    candidates.setdefault(id(value), (value, []))[1].append(
                        (module_name, attribute)
                    )
        for ident, (signal, places) in candidates.items():
            if ident in self._names:
                continue
            module_name, attribute = min(places, key=_definition_rank)
            self._names[ident] = (
                self._hold(ident, signal),
                f"{module_name}.{attribute}",
                attribute,
            )
        self._scanned_modules = len(modules)

    def _scan_classes(self) -> None:
        """Name the signals held by classes of the loaded modules, each by
        the module that defines the class: ``module.Class.attribute``."""
        modules = list(sys.modules.items())
        for module_name, namespace in _namespaces(modules):
            for value in list(namespace.values()):
                if not is_class(value):
                    continue
                try:
                    # type's own getters: a metaclass's code is not run.
                    if _module_of(value) != module_name:
                        continue  # imported, not defined here
                    qualname = _qualname_of(value)
                    attributes = list(_dict_of(value).items())
                except Exception:
                    continue
                for attribute, held in attributes:
                    if issubclass(type(held), Signal) and id(held) not in self._names:
                        self._names[id(held)] = (
                            self._hold(id(held), held),
                            f"{module_name}.{qualname}.{attribute}",
                            attribute,
                        )
        self._scanned_classes = len(modules)

    def _hold(self, ident: int, signal: Signal) -> Any:
        names = self._names

        def forget(_: weakref.ref[Any]) -> None:
            names.pop(ident, None)

        try:
            return weakref.ref(signal, forget)
        except TypeError:  # a Signal subclass with __slots__: held; it is a
            return signal  # module attribute, alive anyway


def _namespaces(modules: list[tuple[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, ``__dict__``) of each module that has a plain one."""
    for module_name, module in modules:
        try:
            # Not getattr(): a lazily loaded module (importlib.util.
            # LazyLoader) would be loaded by it, running its code.
            namespace = object.__getattribute__(module, "__dict__")
        except Exception:
            continue
        if type(namespace) is dict:
            yield module_name, namespace


def _definition_rank(place: tuple[str, str]) -> tuple[int, int, str]:
    module_name, attribute = place
    defines = _module_assigns(module_name, attribute)
    is_signals_module = module_name.rsplit(".", 1)[-1] == "signals"
    return (0 if defines else 1, 0 if is_signals_module else 1, module_name)


@functools.lru_cache(maxsize=2048)
def _module_assigns(module_name: str, attribute: str) -> bool:
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if not filename or not filename.endswith(".py"):
        return False
    try:
        with open(filename, encoding="utf-8", errors="replace") as source:
            text = source.read()
    except OSError:
        return False
    pattern = rf"^{re.escape(attribute)}\s*(:[^=\n]*)?=[^=]"
    return re.search(pattern, text, flags=re.MULTILINE) is not None


signal_names = SignalNames()


def receiver_kind(func: Any) -> str:
    """``function``, ``method``, ``partial``, ``class`` or ``object`` (a
    callable instance)."""
    if inspect.isfunction(func):
        return "function"
    if inspect.ismethod(func):
        return "method"
    if isinstance(func, functools.partial):
        return "partial"
    if is_class(func):
        return "class"
    return "object"
