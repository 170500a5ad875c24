from django.http import HttpResponse
from django.urls import include, path

from benchmarks.benchapp.models import Item


def workload(request):
    """200 saves, then 1,000 rows loaded (the benchmark seeds them)."""
    for n in range(200):
        Item(name=f"n{n}", count=n).save()
    rows = list(Item.objects.order_by("pk")[:1000])
    return HttpResponse(f"<html><body>{len(rows)}</body></html>")


urlpatterns = [
    path("workload/", workload),
    path("__debug__/", include("debug_toolbar.urls")),
]
