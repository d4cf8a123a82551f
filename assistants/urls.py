from django.urls import path

from assistants import views

# Pages inside one agency, mounted under /a/<agency_slug>/.
urlpatterns = [
    path("assistants/", views.AssistantListView.as_view(), name="assistant_list"),
    path("assistants/search/", views.AssistantSearchView.as_view(), name="assistant_search"),
    path("assistants/on-shift/", views.AssistantOnShiftView.as_view(), name="assistant_on_shift"),
    path("assistants/<int:pk>/edit/", views.AssistantEditView.as_view(), name="assistant_edit"),
    path(
        "assistants/<int:pk>/profile/",
        views.AssistantPublicProfileView.as_view(),
        name="assistant_profile_view",
    ),
    path(
        "assistants/<int:pk>/samples/",
        views.WorkSampleAddView.as_view(),
        name="assistant_sample_add",
    ),
    path("work-samples/<int:pk>/", views.WorkSampleFileView.as_view(), name="work_sample_file"),
    path(
        "work-samples/<int:pk>/delete/",
        views.WorkSampleDeleteView.as_view(),
        name="work_sample_delete",
    ),
    path("me/profile/", views.MyAssistantProfileView.as_view(), name="my_assistant_profile"),
    path("me/time-off/", views.MyTimeOffView.as_view(), name="my_time_off"),
    path(
        "me/time-off/<int:pk>/cancel/",
        views.MyTimeOffCancelView.as_view(),
        name="my_time_off_cancel",
    ),
    path("time-off/", views.TimeOffListView.as_view(), name="time_off_list"),
    path("time-off/<int:pk>/", views.TimeOffReviewView.as_view(), name="time_off_review"),
    path("client-manuals/", views.ManualListView.as_view(), name="manual_list"),
    path("client-manuals/<int:pk>/", views.ManualView.as_view(), name="manual_view"),
]
