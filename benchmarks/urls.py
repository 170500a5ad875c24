from django.http import HttpResponse
from django.urls import include, path

from benchmarks.benchapp.models import Item


def workload(request):
    """~200 saves and 1,000 rows loaded (with a post_init receiver)."""
    for n in range(200):
        Item(name=f"n{n}", count=n).save()
    rows = list(Item.objects.all()[:1000])
    return HttpResponse(f"<html><body>{len(rows)}</body></html>")


urlpatterns = [
    path("workload/", workload),
    path("__debug__/", include("debug_toolbar.urls")),
]
