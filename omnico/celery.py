import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")

app = Celery("omnico")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
