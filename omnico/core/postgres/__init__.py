"""Django's PostgreSQL backend with a connection pool that survives a server restart.

Use it as ``ENGINE = "omnico.core.postgres"`` (``omnico/settings.py`` does); everything but the
pool is Django's ``django.db.backends.postgresql``. See ``base.py``.
"""
