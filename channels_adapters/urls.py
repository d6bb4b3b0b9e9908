from django.urls import path

from channels_adapters import views

app_name = "hooks"

urlpatterns = [
    path("<slug:kind>/<slug:name>/", views.webhook, name="webhook"),
]
