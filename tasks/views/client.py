# Pages for client; see tasks/urls.py.
urlpatterns: list = []
