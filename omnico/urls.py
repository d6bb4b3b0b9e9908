from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from omnico import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/worker", health.healthz_worker, name="healthz-worker"),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("hooks/", include("channels_adapters.urls")),
    path("", include("inbox.urls")),
]
