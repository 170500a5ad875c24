"""Hazard detection: pure functions from recorded stats to findings.

Every detector reads the JSON-ready stats of one recording (the same dict the
toolbar stores) and returns ``Finding`` objects; nothing here touches Django
or the objects of the request. The panel, the logger and the pytest plugin
all report the same findings.

Rows are identified by concrete model + database alias + primary key; an
object that has no primary key yet (``pre_save`` of a new row) by its
``id()``, which is unambiguous while one of its saves is still running.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")
KINDS = (
    "recursive_save",
    "double_save",
    "repeated_save",
    "swallowed_error",
    "receiver_error",
    "duplicate_receiver",
    "signals_bypassed",
    "query_per_instance",
    "raw_save_queries",
    "unsaved_change",
    "truncated",
)
# Signals whose nesting on the same row (or relation) is a cycle.
FAMILIES = {
    "django.db.models.signals.pre_save": "save",
    "django.db.models.signals.post_save": "save",
    "django.db.models.signals.pre_delete": "delete",
    "django.db.models.signals.post_delete": "delete",
    "django.db.models.signals.m2m_changed": "m2m",
}
# What code does to send a family's signals, as a chain's steps say it.
ACTIONS = {"save": "save()", "delete": "delete()", "m2m": "change"}
ROBUST_METHODS = ("send_robust", "asend_robust")
MAX_EVENT_IDS = 50
# The sender of the summary row that counts a signal's senders past the
# recording's rows cap (its events keep their own sender's name).
OTHER_SENDERS = "(other senders)"
MAX_SITES = 10
# Signals Django sends for every model instance it builds, each row a
# queryset loads included.
PER_INSTANCE = {
    "django.db.models.signals.pre_init": "pre_init",
    "django.db.models.signals.post_init": "post_init",
}
# The example statement a finding quotes, at most.
MAX_QUOTED_SQL = 120


@dataclass
class Finding:
    """One hazard, with what a user needs to find and fix it."""

    kind: str
    severity: str
    message: str
    advice: str
    events: list[int] = field(default_factory=list)
    receiver: str | None = None
    where: str | None = None
    count: int = 1
    sites: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "advice": self.advice,
            "events": self.events[:MAX_EVENT_IDS],
            "receiver": self.receiver,
            "where": self.where,
            "count": self.count,
            "sites": self.sites[:MAX_SITES],
            "chain": self.chain,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})

    def one_line(self) -> str:
        """The finding as one log or assertion line."""
        where = f" at {self.where}" if self.where else ""
        who = f" [{self.receiver}{where}]" if self.receiver else ""
        return f"{self.kind} ({self.severity}): {self.message}{who} Fix: {self.advice}"


class Analysis:
    """What several detectors need, computed once per recording."""

    def __init__(self, stats: dict[str, Any]) -> None:
        self.stats = stats
        self.events: list[dict[str, Any]] = stats.get("events", [])
        self.by_id = {event["id"]: event for event in self.events}
        self.links = _same_row_links(self.events)
        self.in_cycles = {link.event["id"] for link in self.links}
        # What the recording covered, as messages say it: "request" (the
        # panel's) or "recording" (a record() block, the pytest fixture).
        self.unit: str = stats.get("unit", "request")

    @functools.cached_property
    def nested_queries(self) -> dict[tuple[int, int], int]:
        """(event id, receiver index) -> the queries of the dispatches sent
        from that receiver, which its own count includes."""
        nested: dict[tuple[int, int], int] = defaultdict(int)
        for event in self.events:
            if event["parent"] is not None and event["parent_receiver"] is not None:
                nested[(event["parent"], event["parent_receiver"])] += sum(
                    call["queries"] for call in event["receivers"]
                )
        return nested


def find_hazards(stats: dict[str, Any]) -> list[Finding]:
    """All findings for one recording's stats, most severe first."""
    analysis = Analysis(stats)
    findings: list[Finding] = []
    for detector in DETECTORS:
        findings.extend(detector(analysis))
    findings.sort(key=lambda finding: SEVERITIES.index(finding.severity))
    return findings


def flag_events(stats: dict[str, Any], findings: list[Finding]) -> None:
    """Mark each stored event with the kinds of the findings it is part of."""
    by_id = {event["id"]: event for event in stats.get("events", [])}
    for finding in findings:
        for event_id in finding.events:
            event = by_id.get(event_id)
            if event is not None and finding.kind not in event["flags"]:
                event["flags"].append(finding.kind)


# ---------------------------------------------------------------------------
# Same-row cycles: recursive_save and double_save


def row_keys(event: dict[str, Any]) -> list[tuple[str, ...]]:
    """What a save/delete/m2m dispatch is about, by primary key: its row,
    and for a save of a multi-table child its ancestors' rows too (the save
    writes them)."""
    family = FAMILIES.get(event["signal"])
    target = event.get("target")
    if family is None or not target or target.get("pk") is None:
        return []
    row = (target["concrete_model"], target["db"], target["pk"])
    if family == "m2m":
        return [(family, event["sender"], *row)]
    keys: list[tuple[str, ...]] = [(family, *row)]
    if family == "save":
        keys.extend(
            (family, parent, target["db"], target["pk"])
            for parent in target.get("parents", ())
        )
    return keys


def object_key(event: dict[str, Any]) -> tuple[str, ...] | None:
    """The same, by object identity (for rows without a primary key yet)."""
    family = FAMILIES.get(event["signal"])
    target = event.get("target")
    if family is None or not target or not target.get("object"):
        return None
    # The same object written to another database is another row.
    if family == "m2m":
        return (family, event["sender"], target["object"], target["db"])
    return (family, target["object"], target["db"])


@dataclass
class _Link:
    """An event nested under an earlier dispatch about the same row."""

    event: dict[str, Any]
    ancestor: dict[str, Any]
    via: dict[str, Any]  # the ancestor's child on the path down to ``event``
    root: int
    level: int


def _same_row_links(events: list[dict[str, Any]]) -> list[_Link]:
    """Every event that has an ancestor about the same row, in one DFS pass.

    Linear in the number of events: open dispatches are indexed by row key
    and object key while the walk is inside them.
    """
    children: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    known = {event["id"] for event in events}
    for event in events:
        parent = event["parent"] if event["parent"] in known else None
        children[parent].append(event)
    open_by_key: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    path: list[dict[str, Any]] = []
    depth_of: dict[int, int] = {}
    link_of: dict[int, _Link] = {}
    links: list[_Link] = []
    # (event, entering?) pairs: an explicit stack, chains can be deep.
    stack: list[tuple[dict[str, Any], bool]] = [
        (event, True) for event in reversed(children[None])
    ]
    while stack:
        event, entering = stack.pop()
        keys = row_keys(event)
        by_object = object_key(event)
        if by_object:
            keys.append(by_object)
        if not entering:
            for key in keys:
                open_by_key[key].pop()
            path.pop()
            continue
        candidates = [open_by_key[key][-1] for key in keys if open_by_key[key]]
        if candidates:
            ancestor = max(candidates, key=lambda e: depth_of[e["id"]])
            below = depth_of[ancestor["id"]] + 1
            via = path[below] if below < len(path) else event
            previous = link_of.get(ancestor["id"])
            link = _Link(
                event=event,
                ancestor=ancestor,
                via=via,
                root=previous.root if previous else ancestor["id"],
                level=previous.level + 1 if previous else 1,
            )
            link_of[event["id"]] = link
            links.append(link)
        depth_of[event["id"]] = len(path)
        path.append(event)
        for key in keys:
            open_by_key[key].append(event)
        stack.append((event, False))
        stack.extend((child, True) for child in reversed(children[event["id"]]))
    return links


def _culprit(link: _Link) -> dict[str, Any] | None:
    """The receiver of the earlier dispatch whose code led to the re-save."""
    index = link.via["parent_receiver"]
    receivers = link.ancestor["receivers"]
    if index is None or not 0 <= index < len(receivers):
        return None
    receiver: dict[str, Any] = receivers[index]
    return receiver


def _row_label(event: dict[str, Any]) -> str:
    target = event.get("target")
    if not target:  # a dispatch about no row, e.g. a custom signal in the chain
        return str(event["sender"])
    if target.get("pk") is None:
        return f"an unsaved {target['model']}"
    return f"{target['model']} pk={target['pk']}"


def detect_save_cycles(analysis: Analysis) -> Iterator[Finding]:
    """``recursive_save`` and ``double_save``: one finding per culprit receiver."""
    by_id = analysis.by_id
    groups: dict[int, list[_Link]] = defaultdict(list)
    for link in analysis.links:
        groups[link.root].append(link)
    # A cycle through other models (A saves B saves A) leaves one chain per
    # row; report them under the outermost one. Only chains on the way from
    # that one's first dispatch to its repeats: another row's double save that
    # merely happens inside it is a finding of its own.
    on_path = {
        root_id: _on_path(root_id, links, by_id) for root_id, links in groups.items()
    }
    for root_id in sorted(groups, reverse=True):
        outer = _outer_root(by_id[root_id], groups, by_id, on_path)
        if outer != root_id:
            groups[outer].extend(groups.pop(root_id))
            on_path[outer] |= on_path.pop(root_id)
    merged: dict[tuple[str, str | None, str | None], list[_Chain]] = defaultdict(list)
    for root_id, links in groups.items():
        for chain in _by_culprit(_Chain(by_id[root_id], links)):
            culprit = _culprit(chain.first) or {}
            merged[(chain.kind, culprit.get("name"), culprit.get("where"))].append(
                chain
            )
    capped = {
        (row["signal"], row["sender"])
        for row in analysis.stats.get("signals", [])
        if row["not_stored"]
    }
    for (kind, name, where), chains in merged.items():
        finding = _cycle_finding(kind, name, where, chains, by_id, analysis.unit)
        if any(
            (c.root["signal"], c.root["sender"]) in capped
            or (c.root["signal"], OTHER_SENDERS) in capped
            for c in chains
        ):
            # Deeper levels were counted but not stored.
            finding.message = finding.message.replace(" levels deep", "+ levels deep")
            if kind == "double_save":
                root = chains[0].root
                finding.message += (
                    f" Later {root['signal_name']} of {root['sender']} dispatches "
                    "were counted, not stored: there may be more rows."
                )
        yield finding


class _Chain:
    """A dispatch and the later dispatches about its row nested inside it."""

    def __init__(self, root: dict[str, Any], links: list[_Link]) -> None:
        self.root = root
        self.links = links
        self.first = min(links, key=lambda link: link.event["id"])
        self.levels = max(link.level for link in links)
        self.family = FAMILIES[root["signal"]]
        direct = self.levels == 1 and all(
            link.event["parent"] == root["id"] and link.root == root["id"]
            for link in links
        )
        self.kind = (
            "double_save" if direct and self.family == "save" else "recursive_save"
        )
        # One re-save sends pre_save and post_save again: those of the root's
        # own signal count the re-saves.
        self.resaves = max(
            1, sum(link.event["signal"] == root["signal"] for link in links)
        )
        errors = [
            event.get("error") or ""
            for event in (root, *(link.event for link in links))
        ]
        self.crashed = any("RecursionError" in error for error in errors)
        # Stopped by RAISE_ON_RECURSION rather than by Python's limit.
        self.stopped = any("SignalRecursionError" in error for error in errors)


def _on_path(
    root_id: int, links: list[_Link], by_id: dict[int, dict[str, Any]]
) -> set[int]:
    """The events between a chain's first dispatch and each of its repeats
    (each event is visited once)."""
    marked = {root_id}
    for link in links:
        node = link.event["id"]
        while node is not None and node not in marked and node in by_id:
            marked.add(node)
            node = by_id[node]["parent"]
    return marked


def _outer_root(
    root: dict[str, Any],
    groups: dict[int, list[_Link]],
    by_id: dict[int, dict[str, Any]],
    on_path: dict[int, set[int]],
) -> int:
    """The outermost chain ``root``'s chain is part of (on its path)."""
    outer = root["id"]
    parent = root["parent"]
    while parent is not None and parent in by_id:
        if parent in groups and root["id"] in on_path.get(parent, ()):
            outer = parent
        parent = by_id[parent]["parent"]
    return outer


def _by_culprit(chain: _Chain) -> list[_Chain]:
    """A double save's chain split by the receiver that saved again: each is
    a finding of its own (two receivers re-saving the row are two fixes)."""
    if chain.kind != "double_save":
        return [chain]
    split: dict[int | None, list[_Link]] = defaultdict(list)
    for link in chain.links:
        split[link.via["parent_receiver"]].append(link)
    if len(split) == 1:
        return [chain]
    return [_Chain(chain.root, links) for links in split.values()]


def _cycle_finding(
    kind: str,
    name: str | None,
    where: str | None,
    chains: list[_Chain],
    by_id: dict[int, dict[str, Any]],
    unit: str,
) -> Finding:
    chain = chains[0]
    root = chain.root
    event_ids = [root["id"]]
    sites: set[str] = set()
    for each in chains:
        event_ids.extend(link.event["id"] for link in each.links)
        sites.update(
            link.event["sent_from"]
            for link in each.links
            if link.event.get("sent_from")
        )
    receiver = name or "a receiver"
    row = _row_label(root)
    steps = _chain_steps(chain, by_id)
    rows = f" ({len(chains)} rows in this {unit})" if len(chains) > 1 else ""
    if kind == "double_save":
        signal = root["signal_name"]
        site = chain.first.event.get("sent_from")
        writes = 1 + max(each.resaves for each in chains)
        times = "twice" if writes == 2 else f"{writes} times"
        again = _row_label(chain.first.event)
        if again != row:  # a multi-table child's row and its parent's
            again = f"the {again} row of {row}"
        message = (
            f"{signal} receiver {receiver} saves {again} again"
            + (f" at {site}" if site else "")
            + f", so the row is written {times}{rows}."
        )
        model = root["target"]["model"].rsplit(".", 1)[-1]
        narrowed = all(
            link.event["kwargs"].get("update_fields", "None") != "None"
            for each in chains
            for link in each.links
        )
        advice = (
            "Set the value before the first save() (a pre_save receiver may change "
            "the instance without saving it), or write only the changed column with "
            f"{model}.objects.filter(pk=instance.pk).update(...), which sends no "
            "signal"
            + (
                " (update_fields narrows the second write, but it is still a "
                "second write, and sends the save signals again)."
                if narrowed
                else "; at the very least pass update_fields."
            )
            if signal == "post_save"
            else "Do not call save() in a pre_save receiver: change the instance's "
            "attributes and the save in progress writes them."
        )
        return Finding(
            kind,
            "warning",
            message,
            advice,
            event_ids,
            name,
            where,
            count=len(chains),
            sites=sorted(sites),
            chain=steps,
        )
    family = chain.family
    verb = {"save": "saved", "delete": "deleted", "m2m": "changed"}[family]
    what = f"the same {root['sender']} relation of {row}" if family == "m2m" else row
    if what.startswith(("an unsaved ", "the same ")):  # the sentence's start
        what = what[0].upper() + what[1:]
    levels = max(each.levels for each in chains)
    crashed = any(each.crashed for each in chains)
    stopped = any(each.stopped for each in chains)
    if levels > 1 or crashed:  # the chain shown repeated on: say so
        steps.append("…")
    message = (
        f"{what} is {verb} again while its own {root['signal_name']} is still "
        f"running, {levels} level{'s' if levels != 1 else ''} deep"
        + (
            ", until SIGNALS_PANEL['RAISE_ON_RECURSION'] stopped the next save"
            if stopped
            else " until RecursionError"
            if crashed
            else ""
        )
        + (f", through {receiver}" if name else "")
        + f"{rows}."
    )
    return Finding(
        "recursive_save",
        "error",
        message,
        CYCLE_ADVICE[family],
        event_ids,
        name,
        where,
        count=len(chains),
        sites=sorted(sites),
        chain=steps,
    )


CYCLE_ADVICE = {
    "save": (
        "Do not save the instance a save signal is about from its receivers: set "
        "fields in pre_save without saving, use QuerySet.filter(pk=...).update(...) "
        "(it sends no signal), or guard the receiver (check created or "
        "update_fields, or a flag on the instance)."
    ),
    "delete": (
        "Do not delete the row being deleted from its own delete receivers; let "
        "on_delete cascades do it, or guard the receiver."
    ),
    "m2m": (
        "Do not change the same relation from its m2m_changed receiver; if you "
        "must, guard it (check action and pk_set) so it runs once."
    ),
}


def _chain_steps(chain: _Chain, by_id: dict[int, dict[str, Any]]) -> list[str]:
    """The path from the first dispatch to its first repeat, step by step.

    ``post_save shop.Book pk=1``, ``shop.signals.count_books (shop/signals.py:9)``,
    ``save() at shop/signals.py:12 in count_books``, ``post_save shop.Author pk=1``…
    """
    path = [chain.first.event]
    while path[-1]["id"] != chain.root["id"] and path[-1]["parent"] in by_id:
        path.append(by_id[path[-1]["parent"]])
    path.reverse()
    steps: list[str] = []
    for event, child in zip(path, [*path[1:], None], strict=True):
        steps.append(f"{event['signal_name']} {_row_label(event)}")
        if child is None:
            break
        index = child["parent_receiver"]
        if index is not None and 0 <= index < len(event["receivers"]):
            call = event["receivers"][index]
            steps.append(f"{call['name']} ({call['where']})")
        # What the receiver did that sent the next signal.
        family = FAMILIES.get(child["signal"])
        action = ACTIONS[family] if family else f"{child['signal_name']}.send()"
        site = child.get("sent_from")
        steps.append(f"{action} at {site}" if site else action)
    return steps


# ---------------------------------------------------------------------------
# repeated_save


@functools.lru_cache(maxsize=256)
def _saved_by_django(label: str) -> bool:
    """Rows Django's own machinery writes as it needs: sessions (a login
    creates the row, the session middleware saves it again)."""
    from django.apps import apps

    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return False
    return any(
        klass.__name__ == "AbstractBaseSession"
        and klass.__module__.startswith("django.contrib.sessions.")
        for klass in model.__mro__
    )


@functools.lru_cache(maxsize=256)
def _root_label(label: str) -> str:
    """The multi-table-inheritance root of a model, by label (the model
    itself for most): the rows one save writes share it."""
    from django.apps import apps

    from .describe import model_facts

    try:
        facts = model_facts(apps.get_model(label))
    except (LookupError, ValueError):
        return label
    # The last of the rows its saves write: up the primary-key parent links.
    return facts.rows[-1][1] if facts is not None else label


def detect_repeated_saves(analysis: Analysis) -> Iterator[Finding]:
    by_row: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for write in analysis.stats.get("writes", []):
        if write.get("event") in analysis.in_cycles:
            continue
        by_row[(write["model"], write["db"], write["pk"])].append(write)
    # A multi-table child's saves write its ancestors' rows too: the same
    # writes of the parent row are the child's finding, reported once.
    reported: set[tuple[Any, ...]] = set()
    receivers = _save_receiver_sites(analysis.events)
    for (model, db, pk), writes in by_row.items():
        if len(writes) < 2 or _saved_by_django(model):
            continue
        if any(_site_in(write.get("site"), model, receivers) for write in writes):
            # Past the caps a save receiver runs unrecorded, and its re-save
            # looks like the view's: the receiver's double_save tells of it.
            continue
        same_writes = (
            _root_label(model),
            db,
            pk,
            *((write.get("event"), write.get("site")) for write in writes),
        )
        if same_writes in reported:
            continue
        reported.add(same_writes)
        # No site: send sites are off, or the write came past its row's cap
        # and was the first of this row (README, "What is recorded").
        sites = [write.get("site") or "a site not kept" for write in writes]
        yield Finding(
            "repeated_save",
            "info",
            f"{model} pk={pk} was saved {len(writes)} times in this {analysis.unit}, "
            f"from {', '.join(dict.fromkeys(sites))}.",
            "Gather the changes and save once (pass update_fields for partial "
            "updates); each save() is a query and sends pre_save and post_save.",
            [write["event"] for write in writes if write.get("event") is not None],
            count=len(writes),
            sites=sites,
        )


def _save_receiver_sites(events: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(concrete model, file, function) of each save signal's receiver seen."""
    found = set()
    for event in events:
        target = event.get("target")
        if FAMILIES.get(event["signal"]) != "save" or not target:
            continue
        for call in event["receivers"]:
            if call.get("where"):
                path = call["where"].rsplit(":", 1)[0]
                found.add(
                    (target["concrete_model"], path, call["name"].rsplit(".", 1)[-1])
                )
    return found


def _site_in(
    site: str | None, model: str, receivers: set[tuple[str, str, str]]
) -> bool:
    """Whether a write's site (``path:line in function``) is inside one of
    ``model``'s save receivers."""
    if not site or " in " not in site:
        return False
    place, _, function = site.partition(" in ")
    return (model, place.rsplit(":", 1)[0], function) in receivers


# ---------------------------------------------------------------------------
# Receiver errors


def detect_receiver_errors(analysis: Analysis) -> Iterator[Finding]:
    # (robust, receiver, where) -> (event, error, receiver index, handler).
    grouped: dict[
        tuple[bool, str, str | None],
        list[tuple[dict[str, Any], str, int, dict[str, Any]]],
    ] = defaultdict(list)
    # A receiver's error that came out of a dispatch it sent is that
    # dispatch's receiver's: reported there, not again for each receiver it
    # passed through.
    passed_on = {
        (event["parent"], event["parent_receiver"], event["error"])
        for event in analysis.events
        if event.get("error") and event["parent"] is not None
    }
    by_id = analysis.by_id
    for event in analysis.events:
        for index, call in enumerate(event["receivers"]):
            error = call.get("error")
            if (
                error
                and "RecursionError" in error
                and event["id"] in analysis.in_cycles
            ):
                continue  # the recursive_save of that chain tells of it
            if error and (event["id"], index, error) not in passed_on:
                # Where it ended: the dispatch that swallowed it, or the one
                # it propagated out of last.
                handler = _handler(event, error, by_id)
                robust = handler["method"] in ROBUST_METHODS
                grouped[(robust, call["name"], call["where"])].append(
                    (event, error, index, handler)
                )
    for (robust, name, where), failures in grouped.items():
        event, error, index, handler = failures[0]
        times = f" ({len(failures)} times)" if len(failures) > 1 else ""
        said = f"{event['signal_name']} receiver {name} raised {error}{times}"
        # The dispatch that handled it, when it is not the receiver's own.
        of = (
            f" of {handler['signal_name']} (which the receiver's dispatch ran in)"
            if handler is not event
            else ""
        )
        if robust:
            kind, severity, advice = "swallowed_error", "warning", SWALLOWED_ADVICE
            message = (
                f"{said}, and {handler['method']}(){of} swallowed it: Django only "
                "logged it."
            )
        else:
            kind, severity, advice = "receiver_error", "error", RAISED_ADVICE
            # Only a sync receiver stops the ones after it (async ones run
            # together, after the sync ones).
            stopped = any(
                at < len(failed["receivers"]) - 1
                and not failed["receivers"][at].get("is_async")
                for failed, _, at, _ in failures
            )
            message = (
                f"{said}; the exception propagated out of {handler['method']}()"
                f"{of}"
                + (" and the receivers after it did not run." if stopped else ".")
            )
        yield Finding(
            kind,
            severity,
            message,
            advice,
            [e["id"] for e, _, _, _ in failures],
            name,
            where,
            count=len(failures),
            sites=_unique(e.get("sent_from") for e, _, _, _ in failures),
        )


def _handler(
    event: dict[str, Any], error: str, by_id: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """The outermost dispatch a receiver's error reached: up from ``event``
    while the error propagated out of a dispatch into the receiver that sent
    it (which failed with it too)."""
    while event.get("error") == error and event["parent"] in by_id:
        parent = by_id[event["parent"]]
        index = event["parent_receiver"]
        receivers = parent["receivers"]
        if index is None or not 0 <= index < len(receivers):
            break
        if receivers[index].get("error") != error:
            break
        event = parent
    return event


SWALLOWED_ADVICE = (
    "Fix the receiver, or handle its failure explicitly: check the "
    "(receiver, response) pairs send_robust() returns for exceptions."
)
RAISED_ADVICE = (
    "Fix the receiver, or catch what it may raise inside it; use send_robust() "
    "only where a failing receiver must not stop the sender."
)


# ---------------------------------------------------------------------------
# duplicate_receiver


def detect_duplicate_receivers(analysis: Analysis) -> Iterator[Finding]:
    seen: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    # The most times it ran for one dispatch.
    runs: dict[tuple[str, str], int] = {}
    for event in analysis.events:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for call in event["receivers"]:
            # Only module-level functions: bound methods of distinct
            # instances, partials, lambdas and closures made by a factory are
            # legitimately several receivers with one definition.
            name = call["name"]
            if call.get("kind") != "function" or not call.get("where"):
                continue
            if "<locals>" in name or "<lambda>" in name:
                continue
            # The module part differs when a module is imported twice.
            counts[(call["where"], name.rsplit(".", 1)[-1])] += 1
        for key, count in counts.items():
            if count > 1:
                seen[key].append(event)
                runs[key] = max(runs.get(key, 0), count)
    for (where, qualname), events in seen.items():
        names = sorted(
            {
                call["name"]
                for event in events
                for call in event["receivers"]
                if call["where"] == where
            }
        )
        event = events[0]
        twice_as = (
            f" (connected as {' and '.join(names)}: "
            "the module is imported under two names)"
            if len(names) > 1
            else ""
        )
        times = runs[(where, qualname)]
        ran = "twice" if times == 2 else f"{times} times"
        yield Finding(
            "duplicate_receiver",
            "warning",
            f"{names[0]} ran {ran} for one {event['signal_name']} dispatch: it is "
            f"connected more than once{twice_as}.",
            "Connect it once, in AppConfig.ready(). A second connection comes from "
            "a connect()/@receiver run again without dispatch_uid= (or with another "
            "one: the same dispatch_uid= makes a repeat replace the first), from one "
            "for every sender (no sender=) beside one for this sender, or from its "
            "module imported under two names.",
            [e["id"] for e in events],
            names[0],
            where,
            count=len(events),
        )


# ---------------------------------------------------------------------------
# signals_bypassed


def detect_bypassed_signals(analysis: Analysis) -> Iterator[Finding]:
    grouped: dict[tuple[str, str, str | None, str | None], list[dict[str, Any]]] = (
        defaultdict(list)
    )
    for bypass in analysis.stats.get("bypasses", []):
        if (
            not bypass["skipped"]
            or bypass["rows"] == 0  # nothing written, nothing bypassed
            or _inside_own_save_receiver(bypass, analysis.by_id)
        ):
            continue
        grouped[
            (
                bypass["operation"],
                bypass["model"],
                bypass.get("site"),
                bypass.get("via"),
            )
        ].append(bypass)
    for (operation, model, site, via), bypasses in grouped.items():
        where: dict[str, str | None] = {}
        for bypass in bypasses:
            locations = bypass.get("skipped_where") or [None] * len(bypass["skipped"])
            where.update(zip(bypass["skipped"], locations, strict=False))
        skipped = sorted(where)
        rows = sum(bypass["rows"] or 0 for bypass in bypasses)
        times = f" ({len(bypasses)} calls)" if len(bypasses) > 1 else ""
        wrote = f"{rows} row{'s' if rows != 1 else ''}{times}"
        at = site or "an unknown site"
        did_not_run = f"so {', '.join(skipped)} did not run."
        if via == "on_delete":
            message = (
                f"A delete at {at} set the foreign key of {wrote} of {model} "
                "(on_delete=SET_NULL, SET_DEFAULT or SET(value)) with "
                f"QuerySet.update(), without pre_save or post_save, {did_not_run}"
            )
            advice = (
                "If those receivers must see it, react in a pre_delete or "
                "post_delete receiver of the deleted model, or use "
                "on_delete=DO_NOTHING and save each row yourself before the delete."
            )
        elif via == "related_manager":
            message = (
                f"A related manager's add(), remove(), clear() or set() at {at} "
                f"wrote {wrote} of {model} with QuerySet.update(), without pre_save "
                f"or post_save, {did_not_run}"
            )
            advice = (
                "Pass bulk=False if those receivers must run: each object is then "
                "saved, and sends pre_save and post_save."
            )
        else:
            message = (
                f"QuerySet.{operation}() of {model} at {at} wrote {wrote} without "
                f"sending pre_save or post_save, {did_not_run}"
            )
            advice = (
                "If those receivers must run, save each instance instead (slower); "
                "otherwise do their work explicitly after the bulk operation."
            )
        yield Finding(
            "signals_bypassed",
            "info",
            message,
            advice,
            [],
            skipped[0],
            where[skipped[0]],
            count=len(bypasses),
            sites=[site] if site else [],
        )


def _inside_own_save_receiver(
    bypass: dict[str, Any], by_id: dict[int, dict[str, Any]]
) -> bool:
    """An update() made by a save receiver of the same model (the advised fix
    for a double save), not one made further down, nor a bulk create."""
    event = by_id.get(bypass.get("inside"))  # type: ignore[arg-type]
    if bypass["operation"] != "update" or event is None:
        return False
    target = event.get("target")
    return bool(
        FAMILIES.get(event["signal"]) == "save"
        and target
        and target["concrete_model"] == bypass["concrete_model"]
    )


# ---------------------------------------------------------------------------
# truncated


# ---------------------------------------------------------------------------
# query_per_instance


def detect_queries_per_instance(analysis: Analysis) -> Iterator[Finding]:
    """A pre_init/post_init receiver that queries: one query (or more) per
    instance, so per row of every queryset loaded."""
    grouped = _receivers_querying(analysis, _loaded_by_a_queryset)
    for (signal, name, where), runs in grouped.items():
        if len(runs) < 2:  # one instance: no multiplication to speak of
            continue
        queries = sum(call["queries"] for _, call in runs)
        senders = list(dict.fromkeys(event["sender"] for event, _ in runs))
        more = sum(
            _truncated(row)
            for row in analysis.stats.get("signals", [])
            if row["signal"] == signal
            and (row["sender"] in senders or row["sender"] == OTHER_SENDERS)
        )
        example = next(
            (
                statement["sql"]
                for _, call in runs
                for statement in call.get("sql") or ()
            ),
            None,
        )
        quoted = f" (such as {_quoted(example)})" if example else ""
        past_cap = (
            f" It also ran for {more} more instances built past the caps, not "
            "counted here."
            if more > 0
            else ""
        )
        yield Finding(
            "query_per_instance",
            "warning",
            f"{PER_INSTANCE[signal]} receiver {name} ran {queries} "
            f"{'query' if queries == 1 else 'queries'} for {len(runs)} instances of "
            f"{', '.join(senders)}{quoted}: every row a queryset loads pays "
            f"for it.{past_cap}",
            f"{PER_INSTANCE[signal]} runs for each model instance Django builds. "
            "Do the lookup where the value is used (a method or a cached_property), "
            "or load it with the query (select_related()/prefetch_related()); keep "
            f"{PER_INSTANCE[signal]} receivers to work in memory.",
            [event["id"] for event, _ in runs],
            name,
            where,
            count=len(runs),
        )


# ---------------------------------------------------------------------------
# raw_save_queries

# Save signals, by the name messages give them.
SAVE_SIGNALS = {
    "django.db.models.signals.pre_save": "pre_save",
    "django.db.models.signals.post_save": "post_save",
}
# How a statement that writes starts.
WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def detect_raw_save_queries(analysis: Analysis) -> Iterator[Finding]:
    """A save signal's receiver that runs queries while loaddata saves rows
    (raw=True): rows it reads may not be loaded yet, rows it writes can
    collide with the fixture's own."""
    grouped = _receivers_querying(
        analysis,
        lambda event: (
            event["signal"] in SAVE_SIGNALS and event["kwargs"].get("raw") == "True"
        ),
    )
    for (signal, name, where), runs in grouped.items():
        queries = sum(call["queries"] for _, call in runs)
        writes = [
            statement["sql"]
            for _, call in runs
            for statement in call.get("sql") or ()
            if statement["sql"].lstrip().upper().startswith(WRITE_STATEMENTS)
        ]
        senders = ", ".join(dict.fromkeys(event["sender"] for event, _ in runs))
        loads = f"{len(runs)} fixture row{'s' if len(runs) != 1 else ''}"
        ran = f"{queries} {'query' if queries == 1 else 'queries'}"
        if writes:
            severity = "warning"
            harm = (
                f"it wrote to the database ({_quoted(writes[0])}): rows it "
                "creates can collide with the fixture's own (IntegrityError) or "
                "duplicate them, and rows it reads may not be loaded yet."
            )
        else:
            severity = "info"
            harm = "the rows it reads may not be loaded yet."
        yield Finding(
            "raw_save_queries",
            severity,
            f"{SAVE_SIGNALS[signal]} receiver {name} ran {ran} while loaddata "
            f"saved {loads} of {senders} (raw=True): {harm}",
            "loaddata passes raw=True so that receivers leave fixture data "
            "alone: return early when raw is True (def receiver(sender, "
            "instance, raw=False, **kwargs): if raw: return).",
            [event["id"] for event, _ in runs],
            name,
            where,
            count=len(runs),
        )


def _quoted(sql: str) -> str:
    """A statement cut to ``MAX_QUOTED_SQL`` characters, on one line."""
    text = " ".join(sql.split())
    if len(text) > MAX_QUOTED_SQL:
        text = text[: MAX_QUOTED_SQL - 1] + "…"
    return text


# ---------------------------------------------------------------------------
# unsaved_change


def detect_unsaved_changes(analysis: Analysis) -> Iterator[Finding]:
    """A pre_save receiver that changes fields a save with update_fields does
    not write: the instance in memory says one thing, the row another."""
    grouped: dict[tuple[str, str | None, str, tuple[str, ...]], list[Any]] = (
        defaultdict(list)
    )
    for event in analysis.events:
        if event["signal"] != "django.db.models.signals.pre_save":
            continue
        for call in event["receivers"]:
            if call.get("unsaved"):
                key = (
                    call["name"],
                    call["where"],
                    event["sender"],
                    tuple(call["unsaved"]),
                )
                grouped[key].append(event)
    for (name, where, model, fields), events in grouped.items():
        listed = ", ".join(fields)
        update_fields = events[0]["kwargs"].get("update_fields", "?")
        saves = f" ({len(events)} saves)" if len(events) > 1 else ""
        yield Finding(
            "unsaved_change",
            "warning",
            f"pre_save receiver {name} changes {model}.{listed}, but the save "
            f"writes only update_fields={update_fields}: "
            f"{'that change is' if len(fields) == 1 else 'those changes are'} "
            f"not saved{saves}.",
            f"Add {listed} to update_fields where save() is called, or have the "
            "receiver leave the fields alone when update_fields (one of its "
            "arguments) does not name them.",
            [event["id"] for event in events],
            name,
            where,
            count=len(events),
            sites=_unique(event.get("sent_from") for event in events),
        )


def _loaded_by_a_queryset(event: dict[str, Any]) -> bool:
    """A pre_init/post_init dispatch, but a post_init of an instance built in
    code (no primary key: not a row a queryset loaded)."""
    if event["signal"] not in PER_INSTANCE:
        return False
    target = event.get("target")
    return not event["signal"].endswith("post_init") or bool(
        target and target.get("pk") is not None
    )


def _receivers_querying(
    analysis: Analysis, accept: Callable[[dict[str, Any]], bool]
) -> dict[tuple[str, str, str | None], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """(signal, receiver, where) -> the (event, receiver record) of each
    accepted event whose receiver ran queries of its own (not those of the
    dispatches it sent): the record's ``queries`` is that own count."""
    grouped: dict[
        tuple[str, str, str | None], list[tuple[dict[str, Any], dict[str, Any]]]
    ] = defaultdict(list)
    nested = analysis.nested_queries
    for event in analysis.events:
        if not accept(event):
            continue
        for index, call in enumerate(event["receivers"]):
            own = call["queries"] - nested.get((event["id"], index), 0)
            if own > 0:
                grouped[(event["signal"], call["name"], call["where"])].append(
                    (event, {**call, "queries": own})
                )
    return grouped


def _truncated(counts: dict[str, Any]) -> int:
    """Dispatches with receivers a cap kept out of the timeline (stats rows
    and summaries of older versions have no "unstorable")."""
    return int(counts.get("not_stored", 0)) - int(counts.get("unstorable", 0))


def detect_truncation(analysis: Analysis) -> Iterator[Finding]:
    stats = analysis.stats
    summary = stats.get("summary", {})
    truncated = _truncated(summary)
    if truncated <= 0:
        return
    limits = stats.get("limits", {})
    busiest = max(stats.get("signals", []), key=_truncated, default=None)
    top = (
        f" (most from {busiest['signal_name']} of {busiest['sender']}: "
        f"{_truncated(busiest)})"
        if busiest and _truncated(busiest) > 0
        else ""
    )
    yield Finding(
        "truncated",
        "info",
        f"{truncated} dispatch{'es' if truncated != 1 else ''} with receivers "
        f"{'were' if truncated != 1 else 'was'} counted but not stored{top}; "
        f"{summary.get('dispatches', 0)} in all, {summary.get('silent', 0)} of them "
        "without receivers"
        + ("." if limits.get("list_silent") else " (never stored)."),
        f"Raise SIGNALS_PANEL['MAX_EVENTS'] (now {limits.get('max_events')}) or "
        f"['MAX_EVENTS_PER_SENDER'] (now {limits.get('max_events_per_sender')}) to "
        "keep more.",
    )


def _unique(sites: Iterable[str | None]) -> list[str]:
    """Distinct non-empty sites, in first-seen order."""
    return list(dict.fromkeys(site for site in sites if site))


DETECTORS: list[Callable[[Analysis], Iterator[Finding]]] = [
    detect_save_cycles,
    detect_receiver_errors,
    detect_duplicate_receivers,
    detect_repeated_saves,
    detect_bypassed_signals,
    detect_queries_per_instance,
    detect_raw_save_queries,
    detect_unsaved_changes,
    detect_truncation,
]
