from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from omnico import health

# The admin is the app's "Settings" (templates/admin/base_site.html gives it the app's look).
admin.site.site_header = _("Omnico settings")
admin.site.site_title = _("Omnico settings")
admin.site.index_title = _("Settings")


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers and tools ask for /favicon.ico whatever the page links: send them the SVG.
    Browsers keep a permanent redirect for good, so it names the file's unhashed URL (kept
    beside the hashed copy by collectstatic), never a hash that the next deploy removes."""
    return HttpResponsePermanentRedirect(f"{settings.STATIC_URL}img/favicon.svg")


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
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
    path("api/v1/", include("omnico.api_urls")),
    path("hooks/", include("channels_adapters.urls")),
    path("support/", include("channels_adapters.webchat.urls")),
    path("", include("inbox.urls")),
]
