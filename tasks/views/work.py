# Pages for work; see tasks/urls.py.
urlpatterns: list = []
