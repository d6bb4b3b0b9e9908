from django.urls import path

from inbox import canned_views

urlpatterns = [
    path("inbox/canned/search/", canned_views.canned_search, name="canned-search"),
    path(
        "inbox/<int:ticket_id>/canned/<int:canned_id>/",
        canned_views.canned_render,
        name="canned-render",
    ),
    path("canned/", canned_views.canned_list, name="canned-list"),
    path("canned/new/", canned_views.canned_add, name="canned-add"),
    path("canned/<int:canned_id>/", canned_views.canned_edit, name="canned-edit"),
    path("canned/<int:canned_id>/delete/", canned_views.canned_delete, name="canned-delete"),
]
