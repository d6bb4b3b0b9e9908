from django.urls import path, re_path

from reports import views

urlpatterns = [
    path("", views.reports_page, name="reports"),
    path("live/", views.reports_live, name="reports-live"),
    re_path(
        r"^tickets\.(?P<fmt>csv|xlsx)$", views.reports_tickets_export, name="reports-tickets-export"
    ),
    path("<slug:tab>/", views.reports_page, name="reports-tab"),
    re_path(
        r"^(?P<tab>[-\w]+)/(?P<table>[-\w]+)\.(?P<fmt>csv|xlsx)$",
        views.reports_export,
        name="reports-export",
    ),
]
