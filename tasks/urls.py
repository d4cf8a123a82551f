from tasks import timesheet_views
from tasks.inbound import views as inbound
from tasks.views import client, shared, work

# Pages inside one agency, mounted under /a/<agency_slug>/. Each views module lists its own.
urlpatterns = [
    *shared.urlpatterns,
    *client.urlpatterns,
    *work.urlpatterns,
    *inbound.urlpatterns,
    *timesheet_views.urlpatterns,
]
