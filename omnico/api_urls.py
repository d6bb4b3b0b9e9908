"""``/api/v1/``: each app's endpoints from its own module, the OpenAPI schema and its docs."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from channels_adapters.rest import TicketMessageView
from customers.api import CartPushView, CustomerDetailView, CustomerListView
from tickets.api import CustomerMergeView, TicketDetailView, TicketListView

urlpatterns = [
    path("customers/", CustomerListView.as_view(), name="api-customers"),
    path("customers/<int:customer_id>/", CustomerDetailView.as_view(), name="api-customer"),
    path(
        "customers/<int:customer_id>/merge/", CustomerMergeView.as_view(), name="api-customer-merge"
    ),
    path("carts/", CartPushView.as_view(), name="api-carts"),
    path("tickets/", TicketListView.as_view(), name="api-tickets"),
    path("tickets/<int:ticket_id>/", TicketDetailView.as_view(), name="api-ticket"),
    path(
        "tickets/<int:ticket_id>/messages/", TicketMessageView.as_view(), name="api-ticket-messages"
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
]
