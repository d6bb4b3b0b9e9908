from django.urls import path

from inbox import views

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket-detail"),
    path("reports/", views.reports, name="reports"),
]
