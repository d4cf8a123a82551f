# Pages inside one agency, mounted under /a/<agency_slug>/.
urlpatterns: list = []
