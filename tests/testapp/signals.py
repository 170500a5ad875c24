"""Signals of the test app (custom ones, as a project would declare them)."""

from django.dispatch import Signal

order_paid = Signal()

# Sent by the async probe view; its receiver is connected for every process
# (the uvicorn load test runs the project in a server of its own).
probe = Signal()


async def on_probe(sender, **kwargs):  # type: ignore[no-untyped-def]
    pass


probe.connect(on_probe, dispatch_uid="tests-probe")


class Checkout:
    """Signals kept on a class, as some libraries declare theirs."""

    refunded = Signal()
