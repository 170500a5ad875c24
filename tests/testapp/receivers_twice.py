"""A receiver module that a test imports under a second name, as happens when a
project is importable both as ``project.app`` and ``app``."""

from typing import Any


def count_payment(sender: Any, **kwargs: Any) -> None:
    pass
