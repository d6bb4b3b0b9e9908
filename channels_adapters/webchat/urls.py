from django.urls import path

from channels_adapters.webchat import offline_views, views

app_name = "support"

urlpatterns = [
    path("", views.support_page, name="default"),
    path("files/<int:attachment_id>/", views.support_file, name="file"),
    path("<slug:name>/", views.support_page, name="page"),
    path("<slug:name>/start/", views.support_start, name="start"),
    path("<slug:name>/messages/", views.support_message, name="messages"),
    path("<slug:name>/history/", views.support_history, name="history"),
    path("<slug:name>/queue/", views.support_queue, name="queue"),
    path("<slug:name>/end/", views.support_end, name="end"),
    path("<slug:name>/new/", views.support_new, name="new"),
    path("<slug:name>/rate/", views.support_rate, name="rate"),
    path("<slug:name>/transcript/", views.support_transcript, name="transcript"),
    path("<slug:name>/preferences/", views.support_preferences, name="preferences"),
    path("<slug:name>/offline/", offline_views.support_offline, name="offline"),
    path("<slug:name>/wait/", offline_views.support_wait, name="wait"),
    path("<slug:name>/upload/", views.support_upload, name="upload"),
    path("<slug:name>/theme.css", views.support_theme, name="theme"),
    path("<slug:name>/logo", views.support_logo, name="logo"),
    path("<slug:name>/embed.js", views.support_embed_script, name="embed"),
]
