"""Signals of the test app (custom ones, as a project would declare them)."""

from django.dispatch import Signal

order_paid = Signal()
