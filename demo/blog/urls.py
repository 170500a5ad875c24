from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("api/like/", views.api_like, name="api_like"),
    *(
        path(
            f"scenarios/{scenario.name.replace('_', '-')}/",
            getattr(views, scenario.name),
            name=scenario.name,
        )
        for scenario in views.SCENARIOS
    ),
]
