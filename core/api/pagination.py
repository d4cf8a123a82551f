from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core.errors import ApplicationError
from core.pagination import BACKWARD, InvalidCursor, KeysetPaginator, encode_cursor


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class KeysetPagination(CursorPagination):
    """Cursor pages for long API lists: `{"next", "previous", "results"}`, as DRF's
    CursorPagination answers and documents them, with no total and no page numbers.

    The position is the whole ordering of the view's queryset (`order_by(...)`, which must
    end on a unique field such as "pk"), not only its first field as in DRF's own class, so
    rows that share a due time cost nothing extra and the database seeks straight to the
    page through an index that ends in the same columns (core.pagination). A cursor that
    this list did not make is a 400 with code `cursor_invalid`.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("pk",)  # when the view's queryset has no order of its own

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        ordering = tuple(queryset.query.order_by) or self.ordering
        paginator = KeysetPaginator(
            queryset,
            ordering=ordering,
            per_page=self.page_size,
            cursor_param=self.cursor_query_param,
        )
        try:
            self.page = paginator.page(
                request.query_params.get(self.cursor_query_param), strict=True
            )
        except InvalidCursor:
            raise ApplicationError(
                "That cursor is not one this list gave out: start again without it.",
                code="cursor_invalid",
                extra={"field": self.cursor_query_param},
            ) from None
        self.has_next, self.has_previous = self.page.has_next, self.page.has_previous
        return list(self.page.object_list)

    def _link(self, cursor: str | None) -> str:
        url = self.request.build_absolute_uri()
        if cursor is None:
            return remove_query_param(url, self.cursor_query_param)
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_next_link(self):
        return self._link(self.page.next_cursor) if self.page.has_next else None

    def get_previous_link(self):
        if not self.page.has_previous:
            return None
        return self._link(self.page.previous_cursor)

    def get_last_link(self):
        return self._link(encode_cursor(BACKWARD, None))

    def get_html_context(self):
        return {"previous_url": self.get_previous_link(), "next_url": self.get_next_link()}
