from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    """The API's router. Its routes are path converters, and a detail route's id is an
    `<int:pk>` unless the viewset names another converter (`lookup_value_converter`), as on
    the pages: `clients/abc/` is no route at all (404), never a query the database refuses.
    An extra action's own ids say so in its `url_path` (`lines/<int:line_pk>/terms`)."""

    def __init__(self, **kwargs):
        super().__init__(use_regex_path=False, **kwargs)
        self._default_value_pattern = "int"
