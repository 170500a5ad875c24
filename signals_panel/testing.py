"""pytest plugin (registered through the ``pytest11`` entry point).

Fixture ``signal_recording``: a recording of every signal the test sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .recorder import Recording


@pytest.fixture
def signal_recording() -> Iterator[Recording]:
    """Records every signal dispatched while the test runs."""
    from .recorder import record

    with record() as recording:
        yield recording
