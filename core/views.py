from django.views.generic import FormView

from core.errors import ApplicationError
from core.forms import add_application_error


def render_now(response):
    """Render a lazy response while the agency scope is still active."""
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    return response


class ServiceFormView(FormView):
    """A form page whose valid input goes to one service call.

    Subclasses implement `perform(data)` (call the service, return what it made) and
    `succeeded(result)` (the redirect). An ApplicationError from the service is shown next
    to the field it names, and nothing is saved.
    """

    template_name = "form_page.html"
    title = ""
    intro = ""
    submit_label = "Save"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("title", self.title)
        kwargs.setdefault("intro", self.intro)
        kwargs.setdefault("submit_label", self.submit_label)
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            result = self.perform(form.cleaned_data)
        except ApplicationError as error:
            add_application_error(form, error)
            return self.form_invalid(form)
        return self.succeeded(result)

    def perform(self, data):
        raise NotImplementedError

    def succeeded(self, result):
        raise NotImplementedError
