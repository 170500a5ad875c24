"""Settings for Django's own test suite with every test recorded.

Django's tests/test_sqlite.py settings, plus: each test method runs inside
``signals_panel.record()``, so every dispatch of the suite goes through the
recording path. Used by django_suite/run.sh.
"""

import unittest

from test_sqlite import *  # noqa: F403

import signals_panel

_original_run = unittest.TestCase.run


def _recorded_run(self, result=None):  # type: ignore[no-untyped-def]
    with signals_panel.record() as recording:
        outcome = _original_run(self, result)
    # Building the stats runs every detector over what was recorded.
    recording.to_dict()
    return outcome


unittest.TestCase.run = _recorded_run  # type: ignore[method-assign]
