from django.urls import path

from channels_adapters.webchat import views

app_name = "support"

urlpatterns = [
    path("", views.support_page, name="default"),
    path("files/<int:attachment_id>/", views.support_file, name="file"),
    path("<slug:name>/", views.support_page, name="page"),
    path("<slug:name>/start/", views.support_start, name="start"),
    path("<slug:name>/messages/", views.support_message, name="messages"),
    path("<slug:name>/history/", views.support_history, name="history"),
    path("<slug:name>/upload/", views.support_upload, name="upload"),
    path("<slug:name>/theme.css", views.support_theme, name="theme"),
    path("<slug:name>/logo", views.support_logo, name="logo"),
]
