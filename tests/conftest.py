from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.toolbar import ToolbarPage


@pytest.fixture
def toolbar_get(client: Client) -> Callable[..., ToolbarPage]:
    def get(url: str, data: dict[str, Any] | None = None) -> ToolbarPage:
        response = client.get(url, data or {})
        assert response.status_code == 200, response.content[:500]
        return ToolbarPage(client, response)

    return get


@pytest.fixture
def user(db: Any) -> Any:
    return get_user_model().objects.create(username="ada")


pytest_plugins = ["pytester"]
