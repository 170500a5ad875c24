"""The timeline's rows: tree order, flood groups, bars, and their HTML.

The rows are rendered here rather than in a template loop: at 2,000 stored
events (the default cap) Django's template engine took 1.5 s for this table,
string building over ``html.escape`` (every value escaped) takes a fraction
of that. The rest of the panel stays in templates.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .detectors import SEVERITIES

# Indentation: a full step per level for the first levels, a narrow one for
# deeper levels up to a limit (a save chain can be thousands deep), so that
# the other columns keep their room; deeper rows show their depth.
INDENT_PX = 16
NARROW_FROM_DEPTH = 8
NARROW_INDENT_PX = 3
MAX_INDENT_DEPTH = 40
# Arguments shown in a row's summary, without opening it: what tells apart
# dispatches of one signal (a create from an update, the m2m actions).
NOTABLE_KWARGS = ("created", "action", "pk_set")
# Runs of at least this many sibling dispatches of one signal and sender,
# with no children and nothing flagged, collapse into one "xN" row.
GROUP_MIN = 5


def timeline_rows(
    events: list[dict[str, Any]], span: float
) -> Iterator[dict[str, Any]]:
    """Events depth-first (children under their parent, by start time), each
    with its indent and bar; floods of identical leaves get a group row first.

    Iterative, because a save chain can be thousands of levels deep.
    """
    children: dict[int | None, list[dict[str, Any]]] = {}
    known = {event["id"] for event in events}
    for event in events:
        parent = event["parent"] if event["parent"] in known else None
        children.setdefault(parent, []).append(event)
    stack = [list(reversed(_grouped(children.get(None, []), children)))]
    while stack:
        if not stack[-1]:
            stack.pop()
            continue
        item = stack[-1].pop()
        if "members" in item:
            yield {**item, "indent": _indent(item["depth"])}
            continue
        kids = children.get(item["id"], [])
        yield _row(item, span, has_children=bool(kids))
        if kids:
            stack.append(list(reversed(_grouped(kids, children))))


def _row(event: dict[str, Any], span: float, has_children: bool) -> dict[str, Any]:
    receivers = [
        {**call, "short_name": call["name"].rsplit(".", 1)[-1]}
        for call in event["receivers"]
    ]
    target = event["target"] or {}
    search = " ".join(
        [
            event["signal"],
            event["sender"],
            target.get("model") or "",
            f"pk={target['pk']}" if target.get("pk") is not None else "",
            *(f"{key}={value}" for key, value in event["kwargs"].items()),
            *(call["name"] for call in event["receivers"]),
            *(call["where"] or "" for call in event["receivers"]),
            event.get("sent_from") or "",
            *event["flags"],
        ]
    ).lower()
    return {
        **event,
        "receivers": receivers,
        "indent": _indent(event["depth"]),
        "has_children": has_children,
        "queries": sum(call["queries"] for call in event["receivers"]),
        "search": search,
        **_bar(event["start_ms"], event["duration_ms"], span),
    }


def _grouped(
    siblings: list[dict[str, Any]], children: dict[int | None, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Siblings in order, each run of identical plain leaves preceded by a group."""
    items: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []

    def flush() -> None:
        if len(run) >= GROUP_MIN:
            first = run[0]
            group_id = f"g{first['id']}"
            items.append(
                {
                    "members": len(run),
                    "group": group_id,
                    "signal_name": first["signal_name"],
                    "signal": first["signal"],
                    "sender": first["sender"],
                    "depth": first["depth"],
                    "parent": first["parent"],
                    "duration_ms": sum(event["duration_ms"] for event in run),
                    "receivers": [call["name"] for call in first["receivers"]],
                    # Members share their flags (_alike): the group shows them.
                    "flags": first["flags"],
                    "flag_severity": first.get("flag_severity"),
                }
            )
            items.extend({**event, "member_of": group_id} for event in run)
        else:
            items.extend(run)
        run.clear()

    for event in siblings:
        plain = not children.get(event["id"])
        if run and not (plain and _alike(event, run[0])):
            flush()
        if plain:
            run.append(event)
        else:
            items.append(event)
    flush()
    return items


def _alike(event: dict[str, Any], other: dict[str, Any]) -> bool:
    """The same signal, sender, arguments and receivers (the instance aside:
    ``post_init`` for each loaded row), none of them failing."""
    return (
        event["signal"] == other["signal"]
        and event["sender"] == other["sender"]
        and event["kwargs"] == other["kwargs"]
        and event["flags"] == other["flags"]
        and not event["error"]
        and [(c["name"], c["error"]) for c in event["receivers"]]
        == [(c["name"], c["error"]) for c in other["receivers"]]
    )


def _indent(depth: int) -> int:
    wide = min(depth, NARROW_FROM_DEPTH)
    narrow = min(max(depth - NARROW_FROM_DEPTH, 0), MAX_INDENT_DEPTH - wide)
    return wide * INDENT_PX + narrow * NARROW_INDENT_PX


def _bar(start_ms: float, duration_ms: float, span: float) -> dict[str, float]:
    """Where a bar sits in the request's time axis, in percent."""
    left = min(max(start_ms / span * 100, 0.0), 100.0)
    width = min(max(duration_ms / span * 100, 0.3), 100.0 - left)
    return {"bar_left": round(left, 2), "bar_width": round(max(width, 0.0), 2)}


# ---------------------------------------------------------------------------
# HTML
#
# Plain f-strings over ``html.escape`` (quotes included, so values are safe in
# attributes and text alike): several times faster than format_html() at
# thousands of rows. Every value from the stats goes through ``_e``.


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_rows(rows: list[dict[str, Any]]) -> SafeString:
    """The ``<tr>`` elements of the timeline; every value is escaped."""
    labels = _Labels()
    parts = [
        _group_html(row, labels) if "members" in row else _event_html(row, labels)
        for row in rows
    ]
    return mark_safe("".join(parts))


class _Labels:
    """Translated strings, escaped once per rendering instead of per row."""

    def __init__(self) -> None:
        self.show_group = _e(_("Show the dispatches of this group"))
        self.hide_group = _e(_("Hide the dispatches of this group"))
        self.collapse = _e(_("Collapse the dispatches sent from this one"))
        self.expand = _e(_("Show the dispatches sent from this one"))
        self.unsaved = _e(_("unsaved"))
        self.no_receiver = _e(_("no receiver"))
        self.did_not_run = _e(_("did not run"))
        self.sent_from = _e(_("Sent from"))
        self.changed_unsaved = _e(
            _("Changed, not written by this save (update_fields):")
        )
        self.depth = _("depth %(depth)d")


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _group_html(row: dict[str, Any], labels: _Labels) -> str:
    collapsed = ngettext(
        "%(count)d dispatch with the same arguments and receivers",
        "%(count)d dispatches with the same arguments and receivers",
        row["members"],
    ) % {"count": row["members"]}
    receivers = ", ".join(row["receivers"])
    signal, sender = _e(row["signal_name"]), _e(row["sender"])
    parent = "" if row["parent"] is None else int(row["parent"])
    flagged, flags = _flag_html(row)
    return (
        f'<tr class="djsp-group{flagged}" data-djsp-group="{_e(row["group"])}" '
        f'data-djsp-parent="{parent}" '
        f'data-djsp-signal="{signal}" data-djsp-sender="{sender}"><td>'
        f'<div data-djdt-styles="paddingLeft:{int(row["indent"])}px">'
        '<button type="button" class="djsp-toggle" data-djsp-action="group" '
        f'aria-expanded="false" aria-label="{labels.show_group}" '
        f'data-djsp-show="{labels.show_group}" data-djsp-hide="{labels.hide_group}">'
        "&#9656;</button> "
        f'<strong class="djsp-signal" title="{_e(row["signal"])}">{signal}</strong> '
        f'<span class="djsp-times">&times;{int(row["members"])}</span>{flags}</div></td>'
        f'<td><span class="djsp-sender">{sender}</span></td><td>{_e(collapsed)}'
        f'<span class="djsp-group-receivers">{_e(receivers)}</span></td>'
        f'<td class="djsp-axis"></td><td class="djsp-num">{_ms(row["duration_ms"])}'
        "</td></tr>"
    )


def _flag_html(row: dict[str, Any]) -> tuple[str, str]:
    """The row classes (a leading space) and badges of an event's flags,
    coloured by the most severe finding of each kind."""
    if not row["flags"]:
        return "", ""
    severities = row.get("flag_severity") or {}
    worst = min(
        SEVERITIES.index(severities.get(flag, "warning")) for flag in row["flags"]
    )
    badges = "".join(
        f' <span class="djsp-flag djsp-flag-{_e(severities.get(flag, "warning"))}">'
        f"{_e(flag)}</span>"
        for flag in row["flags"]
    )
    return f" djsp-flagged djsp-flagged-{SEVERITIES[worst]}", badges


def _event_html(event: dict[str, Any], labels: _Labels) -> str:
    event_id = int(event["id"])
    classes = "djsp-event"
    if event["error"]:
        classes += " djsp-failed"
    flagged, flags = _flag_html(event)
    classes += flagged
    parent = "" if event["parent"] is None else int(event["parent"])
    signal_name = _e(event["signal_name"])
    sender = _e(event["sender"])
    attributes = (
        f'class="{classes}" id="djsp-event-{event_id}" data-djsp-event="{event_id}" '
        f'data-djsp-parent="{parent}" data-djsp-depth="{int(event["depth"])}" '
        f'data-djsp-signal="{signal_name}" data-djsp-sender="{sender}" '
        f'data-djsp-flags="{_e(" ".join(event["flags"]))}" '
        f'data-djsp-receivers="{len(event["receivers"])}" '
        f'data-djsp-search="{_e(event["search"])}"'
    )
    if event.get("member_of"):
        attributes += f' data-djsp-member="{_e(event["member_of"])}" hidden'
    if event["has_children"]:
        tree = (
            '<button type="button" class="djsp-toggle" data-djsp-action="tree" '
            f'aria-expanded="true" aria-label="{labels.collapse}" '
            f'data-djsp-show="{labels.expand}" data-djsp-hide="{labels.collapse}">'
            "&#9662;</button>"
        )
    else:
        tree = '<span class="djsp-leaf" aria-hidden="true"></span>'
    method = (
        f' <span class="djsp-method">{_e(event["method"])}</span>'
        if event["method"] != "send"
        else ""
    )
    depth = int(event["depth"])
    if depth > NARROW_FROM_DEPTH:
        flags += (
            f' <span class="djsp-depth">{_e(labels.depth % {"depth": depth})}</span>'
        )

    target = event["target"]
    instance = ""
    if target:
        pk = f"({labels.unsaved})" if target["pk"] is None else f"pk={_e(target['pk'])}"
        instance = f'<br><span class="djsp-target">{_e(target["model"])} {pk}</span>'
    return (
        f"<tr {attributes}>"
        f'<td class="djsp-name"><div data-djdt-styles="paddingLeft:{int(event["indent"])}px">'
        f'{tree}<button type="button" class="djsp-details-toggle" data-djsp-action="details" '
        f'aria-expanded="false" aria-controls="djsp-details-{event_id}">'
        f'<strong class="djsp-signal" title="{_e(event["signal"])}">{signal_name}</strong>'
        f"</button>{method}{flags}</div></td>"
        f'<td><span class="djsp-sender">{sender}</span>{instance}</td>'
        f"<td>{_summary_html(event, labels)}{_details_html(event, labels)}</td>"
        f'<td class="djsp-axis"><span class="djsp-bar" title="{_ms(event["start_ms"])} + '
        f'{_ms(event["duration_ms"])}"><span data-djdt-styles="left:'
        f'{float(event["bar_left"])}%;width:{float(event["bar_width"])}%"></span></span></td>'
        f'<td class="djsp-num">{_ms(event["duration_ms"])}</td></tr>'
    )


def _summary_html(event: dict[str, Any], labels: _Labels) -> str:
    names = (
        ", ".join(
            f'<code class="djsp-receiver-short{" djsp-failed" if call["error"] else ""}">'
            f"{_e(call['short_name'])}</code>"
            for call in event["receivers"]
        )
        or f"<em>{labels.no_receiver}</em>"
    )
    kwargs = event["kwargs"]
    notable = " · ".join(
        f"{_e(name)}={_e(kwargs[name])}" for name in NOTABLE_KWARGS if name in kwargs
    )
    if notable:
        names += f' <span class="djsp-notable">{notable}</span>'
    queries = ""
    if event["queries"]:
        count = event["queries"]
        queries = " · " + _e(
            ngettext("%(count)d query", "%(count)d queries", count) % {"count": count}
        )
    return f'<span class="djsp-receiver-summary">{names}{queries}</span>'


def _details_html(event: dict[str, Any], labels: _Labels) -> str:
    parts = [f'<div class="djsp-details" id="djsp-details-{int(event["id"])}" hidden>']
    if event["kwargs"]:
        parts.append('<dl class="djsp-kwargs">')
        parts.extend(
            f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>"
            for key, value in event["kwargs"].items()
        )
        parts.append("</dl>")
    parts.append('<ul class="djsp-receivers">')
    parts.extend(_receiver_html(call, labels) for call in event["receivers"])
    if not event["receivers"]:
        parts.append(f'<li class="djsp-empty">{labels.no_receiver}</li>')
    parts.append("</ul>")
    if event.get("sent_from"):
        parts.append(
            f'<p>{labels.sent_from} <code class="djsp-sent-from">'
            f"{_e(event['sent_from'])}</code></p>"
        )
    if event.get("stack"):
        frames = "".join(
            f"<li><code>{_e(frame)}</code></li>" for frame in event["stack"]
        )
        parts.append(f'<ol class="djsp-stack">{frames}</ol>')
    # The error that stopped the dispatch, unless a receiver's (shown there).
    if event["error"] and all(
        call["error"] != event["error"] for call in event["receivers"]
    ):
        parts.append(f'<div class="djsp-error">{_e(event["error"])}</div>')
    started = _("Started %(at)s ms into the request.") % {
        "at": f"{event['start_ms']:.2f}"
    }
    parts.append(f'<p class="djsp-at">{_e(started)}</p></div>')
    return "".join(parts)


def _receiver_html(call: dict[str, Any], labels: _Labels) -> str:
    classes = "djsp-receiver"
    if call["error"]:
        classes += " djsp-failed"
    if not call["ran"]:
        classes += " djsp-not-run"
    parts = [
        f'<li class="{classes}"><code class="djsp-receiver-name">{_e(call["name"])}</code>'
    ]
    if call["is_async"]:
        parts.append('<span class="djsp-badge">async</span>')
    if call["where"]:
        parts.append(f'<span class="djsp-where">{_e(call["where"])}</span>')
    time_text = _ms(call["duration_ms"]) if call["ran"] else labels.did_not_run
    parts.append(f'<span class="djsp-receiver-time">{time_text}</span>')
    if call["queries"]:
        queries = ngettext(
            "%(count)d query, %(ms)s ms",
            "%(count)d queries, %(ms)s ms",
            call["queries"],
        ) % {"count": call["queries"], "ms": f"{call['query_ms']:.2f}"}
        parts.append(f'<span class="djsp-queries">{_e(queries)}</span>')
    if call.get("sql") or call.get("sql_not_kept"):
        parts.append(_sql_html(call.get("sql") or [], call.get("sql_not_kept", 0)))
    if call.get("unsaved"):
        parts.append(
            f'<div class="djsp-unsaved-change">{labels.changed_unsaved} '
            f"<code>{_e(', '.join(call['unsaved']))}</code></div>"
        )
    if call["error"]:
        parts.append(f'<div class="djsp-error">{_e(call["error"])}</div>')
    parts.append("</li>")
    return "".join(parts)


def _sql_html(statements: list[dict[str, Any]], not_kept: int) -> str:
    """The statements a receiver's own code ran, folded under a summary."""
    count = len(statements) + not_kept
    summary = ngettext(
        "%(count)d SQL statement of its own",
        "%(count)d SQL statements of its own",
        count,
    ) % {"count": count}
    items = []
    for statement in statements:
        many = (
            ' <span class="djsp-badge">executemany</span>' if statement["many"] else ""
        )
        items.append(
            f'<li><code class="djsp-sql-text">{_e(statement["sql"])}</code> '
            f'<span class="djsp-sql-ms">{_ms(statement["ms"])}</span>{many}</li>'
        )
    if not_kept and not statements:
        more = _("not kept: the request's limit of kept statements was reached")
        items.append(f'<li class="djsp-sql-more">{_e(more)}</li>')
    elif not_kept:
        more = ngettext(
            "and %(count)d more, counted only",
            "and %(count)d more, counted only",
            not_kept,
        ) % {"count": not_kept}
        items.append(f'<li class="djsp-sql-more">{_e(more)}</li>')
    return (
        f'<details class="djsp-sql"><summary>{_e(summary)}</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )
