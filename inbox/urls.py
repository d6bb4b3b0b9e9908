from django.urls import include, path

from inbox import views

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<int:ticket_id>/status/", views.ticket_status, name="ticket-status"),
    path("tickets/<int:ticket_id>/priority/", views.ticket_priority, name="ticket-priority"),
    path("tickets/<int:ticket_id>/reply/", views.ticket_reply, name="ticket-reply"),
    path("tickets/<int:ticket_id>/activities/", views.activity_add, name="activity-add"),
    path(
        "tickets/<int:ticket_id>/activities/<int:activity_id>/done/",
        views.activity_done,
        name="activity-done",
    ),
    path(
        "tickets/<int:ticket_id>/activities/<int:activity_id>/call/",
        views.activity_call,
        name="activity-call",
    ),
    path(
        "tickets/<int:ticket_id>/messages/<int:message_id>/retry/",
        views.message_retry,
        name="message-retry",
    ),
    path("reports/", include("reports.urls")),
]
