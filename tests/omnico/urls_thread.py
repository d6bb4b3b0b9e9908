"""The project's URLs plus one view that names the thread it runs on."""

import threading

from django.http import HttpResponse
from django.urls import path

from omnico.urls import urlpatterns as project_urlpatterns


def thread(request):
    return HttpResponse(str(threading.get_ident()))


urlpatterns = [path("thread/", thread), *project_urlpatterns]
