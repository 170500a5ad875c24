"""Exceptions users may catch; importable before Django is configured."""

from __future__ import annotations


class SignalRecursionError(RecursionError):
    """A save chain for one row went deeper than ``RAISE_ON_RECURSION`` allows.

    Raised only when that setting is on, before the dispatch that would go one
    level too deep. A subclass of RecursionError, so code that handles
    runaway recursion handles it too.
    """
