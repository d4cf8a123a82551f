"""The product's URLs plus two floor endpoints that only the benchmarks serve.

A page's time means little alone: on a loaded 2-core machine it moves with everything
else that runs. Timed in the same loop as the pages, these two give the framework's own
cost of an answer, so a page reads as "n times the floor":

- the page floor, `bench_floor`: a page under /a/<agency_slug>/ that signs the member in,
  resolves the agency, checks the membership and enters the scope, as every page does,
  and then answers 204 with nothing to render;
- the API floor, `bench_api_floor`: a DRF list of 25 rows of a small table (content
  types, the same in every agency and database), behind the API's own access checks and
  pagination, as every API list is.

Neither is part of the product: `bench.bench_pages` and `bench.bench_load` switch
ROOT_URLCONF to this module.
"""

from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponse
from django.urls import path
from django.views import View
from rest_framework import generics, serializers

from accounts.access import AgencyViewMixin
from accounts.api.access import AgencyAPIMixin
from core.api.pagination import Pagination
from va_agency.urls import urlpatterns as product_urlpatterns


class FloorPage(AgencyViewMixin, View):
    def get(self, request, *args, **kwargs):
        return HttpResponse(status=204)


class FloorRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentType
        fields = ["id", "app_label", "model"]


class FloorPagination(Pagination):
    page_size = 25


class FloorList(AgencyAPIMixin, generics.ListAPIView):
    serializer_class = FloorRowSerializer
    pagination_class = FloorPagination

    def get_queryset(self):
        return ContentType.objects.order_by("pk")


urlpatterns = [
    path("a/<slug:agency_slug>/_bench/floor/", FloorPage.as_view(), name="bench_floor"),
    path(
        "api/v1/a/<slug:agency_slug>/_bench/floor/",
        FloorList.as_view(),
        name="bench_api_floor",
    ),
    *product_urlpatterns,
]
