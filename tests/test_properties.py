"""Property-based tests: value rendering and the detectors on random inputs."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from signals_panel.describe import MASK, describe_kwarg, describe_value
from signals_panel.detectors import KINDS, SEVERITIES, find_hazards

plain_values = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
)
values = st.recursive(
    plain_values,
    lambda children: (
        st.lists(children)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=10), children)
        | st.frozensets(st.integers() | st.text(max_size=5))
    ),
    max_leaves=30,
)


@given(values, st.integers(min_value=20, max_value=500))
def test_any_value_renders_to_a_short_string(value: Any, limit: int) -> None:
    rendered = describe_value(value, limit)
    assert isinstance(rendered, str)
    assert len(rendered) <= limit


@given(
    st.sampled_from(["password", "api_key", "token", "secret", "credentials", "auth"]),
    st.text(max_size=8),
    st.text(max_size=8),
    values,
)
def test_secret_looking_keys_are_always_masked(
    word: str, before: str, after: str, value: Any
) -> None:
    assert describe_kwarg(f"{before}{word}{after}", value) == MASK


@given(
    plain_values | st.sampled_from([2**63 - 1, -(2**63), 2**63, 10**5000]),
    st.integers(min_value=20, max_value=500),
)
def test_a_keyword_argument_renders_as_its_value_would(value: Any, limit: int) -> None:
    """The shortcuts for None, booleans and short strings change nothing;
    integers, a huge one Python will not convert included, render the same."""
    assert describe_kwarg("value", value, limit) == describe_value(value, limit)


SIGNALS = [
    ("django.db.models.signals.pre_save", "pre_save"),
    ("django.db.models.signals.post_save", "post_save"),
    ("django.db.models.signals.pre_delete", "pre_delete"),
    ("django.db.models.signals.m2m_changed", "m2m_changed"),
    ("shop.signals.order_paid", "order_paid"),
]


@st.composite
def recordings(draw: Any) -> dict[str, Any]:
    count = draw(st.integers(min_value=0, max_value=25))
    events: list[dict[str, Any]] = []
    for index in range(count):
        parents = [e for e in events if e["receivers"]]
        parent = draw(st.sampled_from([None, *parents])) if parents else None
        signal, name = draw(st.sampled_from(SIGNALS))
        pk = draw(st.sampled_from([None, "1", "2"]))
        target = draw(
            st.none()
            | st.just(
                {
                    "model": "shop.Item",
                    "concrete_model": "shop.Item",
                    "pk": pk,
                    "db": "default",
                    "object": draw(st.sampled_from(["0x1", "0x2", "0x3"])),
                }
            )
        )
        receivers = [
            {
                "name": draw(st.sampled_from(["shop.a", "shop.b", "shop.c"])),
                "where": draw(
                    st.sampled_from([None, "shop/signals.py:1", "shop/signals.py:9"])
                ),
                "kind": draw(st.sampled_from(["function", "method", "partial"])),
                "is_async": False,
                "ran": True,
                "start_ms": 0.0,
                "duration_ms": 0.1,
                "queries": 0,
                "query_ms": 0.0,
                "error": draw(
                    st.sampled_from([None, None, "ValueError: x", "RecursionError: y"])
                ),
            }
            for _ in range(draw(st.integers(min_value=0, max_value=3)))
        ]
        events.append(
            {
                "id": index,
                "parent": None if parent is None else parent["id"],
                "parent_receiver": None
                if parent is None
                else draw(
                    st.integers(min_value=0, max_value=len(parent["receivers"]) - 1)
                ),
                "depth": 0 if parent is None else parent["depth"] + 1,
                "signal": signal,
                "signal_name": name,
                "method": draw(st.sampled_from(["send", "send_robust", "asend"])),
                "sender": "shop.Item",
                "target": target,
                "kwargs": {},
                "start_ms": float(index),
                "duration_ms": 1.0,
                "receivers": receivers,
                "sent_from": draw(st.sampled_from([None, "shop/views.py:3 in buy"])),
                "stack": [],
                "error": None,
                "flags": [],
            }
        )
    writes = [
        {"model": "shop.Item", "db": "default", "pk": pk, "event": None, "site": None}
        for pk in draw(st.lists(st.sampled_from(["1", "2"]), max_size=4))
    ]
    not_stored = draw(st.integers(min_value=0, max_value=5))
    return {
        "events": events,
        "writes": writes,
        "bypasses": [],
        "signals": [
            {
                "signal": s,
                "signal_name": n,
                "sender": "shop.Item",
                "not_stored": not_stored,
            }
            for s, n in SIGNALS
        ],
        "summary": {"not_stored": not_stored, "dispatches": count + not_stored},
        "limits": {"max_events": 2000, "max_events_per_sender": 100},
    }


@settings(max_examples=200, deadline=None)
@given(recordings())
def test_detectors_never_crash_and_findings_are_consistent(
    stats: dict[str, Any],
) -> None:
    findings = find_hazards(stats)
    ids = {event["id"] for event in stats["events"]}
    for finding in findings:
        assert finding.kind in KINDS
        assert finding.severity in SEVERITIES
        assert finding.message and finding.advice
        assert set(finding.events) <= ids
        if finding.kind in ("recursive_save", "double_save"):
            assert len(finding.events) >= 2
    severities = [SEVERITIES.index(f.severity) for f in findings]
    assert severities == sorted(severities)
    assert find_hazards(stats) == findings  # deterministic
