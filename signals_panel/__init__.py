"""django-signals-panel: see every Django signal a request dispatched.

``signals_panel.record()`` records the signals sent inside a block::

    with signals_panel.record() as recording:
        ...
    recording.events
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["SignalRecursionError", "__version__", "record"]

from .exceptions import SignalRecursionError

if TYPE_CHECKING:
    from .recorder import Recording


def record(config: dict[str, Any] | None = None) -> Recording:
    """Record every signal dispatched in a ``with`` or ``async with`` block.

    ``config`` overrides ``SIGNALS_PANEL`` keys for this recording only, e.g.
    ``record({"MAX_EVENTS": 50_000})``.
    """
    # Imported here: this package is also a pytest plugin, loaded before
    # Django's settings are configured.
    from .recorder import record as make_recording

    return make_recording(config)
