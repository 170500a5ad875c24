"""A strict Content-Security-Policy for the demo (Django 5.2 has no built-in CSP).

Enabled with DEMO_STRICT_CSP=1, and by the browser tests, to show that the
panel needs no inline script or style.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


class StrictCSPMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
