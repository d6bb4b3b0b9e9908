"""Omnico settings: everything comes from the environment (see README, "Configuration").

Without DATABASE_URL and REDIS_URL Omnico runs embedded: SQLite under var/, the in-memory
channel layer, Celery tasks run eagerly and periodic jobs run in-process. With them it runs
the full stack: PostgreSQL, Redis channel layer and broker, separate worker and beat.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from omnico.core.env import (
    env_bool,
    env_int,
    env_list,
    env_rate,
    env_str,
    owner_only,
    persistent_secret,
    private_dir,
    private_file,
    random_secret_key,
    require_database_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OMNICO_VAR_DIR", str(BASE_DIR / "var")))
if VAR_DIR.exists():  # secrets, database, media: owner-only (0700), also when made earlier
    private_dir(VAR_DIR)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = persistent_secret("SECRET_KEY", VAR_DIR / "secret_key", generate=random_secret_key)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# Fernet keys for secrets at rest (mail passwords, bot tokens, webhook secrets). Several keys,
# comma separated, allow rotation: the first encrypts, all decrypt.
OMNICO_ENCRYPTION_KEYS = [
    key.strip()
    for key in persistent_secret(
        "OMNICO_ENCRYPTION_KEY", VAR_DIR / "encryption_key", generate=_fernet_key
    ).split(",")
    if key.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "omnico",
    "configuration",
    "customers",
    "tickets",
    "channels_adapters",
    "inbox",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: answers a locked-out sign-in with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "omnico.urls"
WSGI_APPLICATION = "omnico.wsgi.application"
ASGI_APPLICATION = "omnico.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "")
EMBEDDED = not DATABASE_URL
#: DATABASE_URL points at PgBouncer in transaction pooling mode (see below).
OMNICO_DB_PGBOUNCER = env_bool("OMNICO_DB_PGBOUNCER", False)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a pool that survives a server restart (omnico/core/postgres):
        # a pooled connection is checked before use (CONN_HEALTH_CHECKS) and a dead one
        # discarded with its dead siblings at once.
        DATABASES["default"]["ENGINE"] = "omnico.core.postgres"
        require_database_password(DATABASES["default"])
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # libpq's default is 130 s: a pool thread connecting to an unreachable server would
        # hang that long between attempts. 2 s is the shortest psycopg allows.
        options.setdefault("connect_timeout", env_int("OMNICO_DB_CONNECT_TIMEOUT", 2, minimum=2))
        if env_bool("OMNICO_DB_POOL", True):
            options["pool"] = {
                "min_size": env_int("OMNICO_DB_POOL_MIN", 2, minimum=0),
                "max_size": env_int("OMNICO_DB_POOL_MAX", 20, minimum=1),
                # How long a request or task waits for a connection; webhooks and the health
                # check wait less (OMNICO_WEBHOOK_DB_WAIT_MS) and answer 503 instead.
                "timeout": 10,
            }
        # Behind PgBouncer in transaction pooling (docker-compose.yml, README "Connection
        # budget") consecutive transactions of one Django connection may run on different
        # server connections: no prepared statement may outlive its transaction (psycopg
        # prepares a query run 5 times on a connection unless prepare_threshold is None;
        # Django passes None unless told otherwise, this pins it) and no server-side cursor
        # (.iterator() declares one) may be used across transactions. Session state that must
        # outlive a transaction (the mail poll's advisory lock) is held in a transaction
        # instead (channels_adapters/email/poll_lock.py).
        if OMNICO_DB_PGBOUNCER:
            options["prepare_threshold"] = None
            DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
else:
    # The database is created owner-only (SQLite gives its -wal and -shm files the same mode),
    # in an owner-only directory; one left readable by an older version is fixed here.
    SQLITE_PATH = private_file(private_dir(VAR_DIR) / "omnico.sqlite3")
    for _journal in ("omnico.sqlite3-wal", "omnico.sqlite3-shm"):
        if (VAR_DIR / _journal).exists():
            owner_only(VAR_DIR / _journal)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # Django takes a Path here (as its own project template does); the stubs say str.
            "NAME": SQLITE_PATH,  # type: ignore[typeddict-item]
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, cache ---------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels-redis drops (silently, but for the sender's log) a message to a channel
            # already holding its capacity. The agent sockets have no channel of their own: each
            # web process's realtime hub reads one set of its own ("specific.hub*") that gets
            # every group's messages for that process; it reads up to 500 a round trip, so it
            # fills only when the process stalls. 10,000 is more than the layer's 60 s expiry
            # holds at 100 messages/s; past it (or on any gap in a sender's numbering) the hub
            # has its sockets re-fetch (omnico/core/realtime_hub.py). Any other channel: 1,000.
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": "omnico",
                "capacity": 1000,
                "channel_capacity": {"specific.hub*": 10_000},
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "omnico",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Celery's Django fix-up closes the database connections around every task, and in a prefork
# worker with the psycopg pool it closes the whole pool: a new PostgreSQL connection per task.
# With this it does so only every 2 x N tasks; omnico.celery hands the connection back to the
# pool after each task instead (and drops a broken one).
CELERY_DB_REUSE_MAX = env_int("OMNICO_CELERY_DB_REUSE_MAX", 500, minimum=1)
CELERY_TASK_IGNORE_RESULT = True
# The result backend is built once per process, not once per thread: Django answers every ASGI
# request on a new thread, and Celery built a RedisBackend (a connection pool, URL parsing) on
# each one that queued a task (the support page's POST: 3 % of the web process's CPU).
# redis-py's client is thread-safe.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With Redis, a task a worker took (running, prefetched, or waiting for its countdown: acks_late
# and ETA tasks stay unacknowledged until they finish) goes back to the queue only when the
# visibility timeout has passed since it was taken, and to a second worker meanwhile if it
# outlasts it. So it is sized above the longest countdown (a reply's retry: 120 s) plus the
# longest task (a delivery's hard limit, 50 s; a mail poll, bounded by its lock), and well under
# Celery's default hour. Replies do not wait for it: outbound_sweep queues an overdue reply again
# within a minute (README, "Replies"). unacked_restore_throttle 1: workers look for expired
# tasks every 10 s instead of every 100 s.
OMNICO_BROKER_VISIBILITY_TIMEOUT = env_int(
    "OMNICO_BROKER_VISIBILITY_TIMEOUT", 600, minimum=2 * (120 + 50)
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": OMNICO_BROKER_VISIBILITY_TIMEOUT,
    "unacked_restore_throttle": 1,
}

# Child processes of one Celery worker (`celery worker` without --concurrency reads it): each
# runs one task at a time on one database connection (omnico.celery gives each child a pool of
# one), so a worker holds at most this many (README, "Connection budget").
OMNICO_WORKER_CONCURRENCY = env_int("OMNICO_WORKER_CONCURRENCY", 4, minimum=1)
CELERY_WORKER_CONCURRENCY = OMNICO_WORKER_CONCURRENCY
# How many ingest tasks may work a backlog of inbound events in parallel (FOR UPDATE SKIP LOCKED
# shares the rows): by default one worker's concurrency, so a burst can keep one worker's
# children busy and leaves the other workers' to replies and sweeps. With several workers and
# ingest the bottleneck, raise it up to workers x concurrency.
OMNICO_INGEST_SLOTS = env_int("OMNICO_INGEST_SLOTS", OMNICO_WORKER_CONCURRENCY, minimum=1)
# After slot 0's ingest task has worked every pending event it waits this long for the next
# one (a blocking Redis read the next event's kick wakes) instead of ending: at a trickle one
# task ingests webhook after webhook, where each used to cost a Celery message, a dispatch and
# an ack (channels_adapters.services.inbound, "the kick protocol"). 0: end at once.
OMNICO_INGEST_LINGER_MS = env_int("OMNICO_INGEST_LINGER_MS", 2000, minimum=0)

# Presence (tickets/presence.py): an active agent with no agent screen open for this long is
# away (no new tickets, not a break). Every open screen says so every heartbeat; the sweep
# (CELERY_BEAT_SCHEDULE "sweep-away-agents") runs every OMNICO_AWAY_SWEEP_SECONDS.
OMNICO_AWAY_SECONDS = env_int("OMNICO_AWAY_SECONDS", 120, minimum=2)
OMNICO_SCREEN_HEARTBEAT_SECONDS = env_int(
    "OMNICO_SCREEN_HEARTBEAT_SECONDS", min(30, OMNICO_AWAY_SECONDS // 2), minimum=1
)
if OMNICO_SCREEN_HEARTBEAT_SECONDS >= OMNICO_AWAY_SECONDS:
    raise ImproperlyConfigured(
        "OMNICO_SCREEN_HEARTBEAT_SECONDS must be shorter than OMNICO_AWAY_SECONDS"
    )
OMNICO_AWAY_SWEEP_SECONDS = env_int("OMNICO_AWAY_SWEEP_SECONDS", 15, minimum=1)

OMNICO_STATS_REFRESH_SECONDS = env_int("OMNICO_STATS_REFRESH_SECONDS", 300, minimum=10)
OMNICO_STATS_CATCH_UP_HOURS = env_int("OMNICO_STATS_CATCH_UP_HOURS", 48, minimum=1)

MAIL_POLL_INTERVAL = env_int("OMNICO_MAIL_POLL_SECONDS", 30, minimum=1)
#: How long a poll waits for the IMAP server's answer before it gives up (seconds).
IMAP_TIMEOUT = env_int("OMNICO_IMAP_TIMEOUT_SECONDS", 30, minimum=1)
# Beat sends the periodic tasks while it holds a lock in Redis, so a second beat (a scaled
# service, another host) waits on standby instead of sending each task twice (omnico/beat.py).
# It answers `celery -A omnico inspect ping --destination celerybeat@HOST` while its loop ticks
# (the compose health check).
CELERY_BEAT_SCHEDULER = "omnico.beat:LockedScheduler"
CELERY_BEAT_ENABLE_REMOTE_CONTROL = True
# One schedule, two drivers: Celery beat in the full stack, omnico.scheduler when embedded.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Events whose task was lost (a killed worker, a dead broker): pending over 15 s, every 10 s.
    "sweep-inbound-events": {"task": "channels_adapters.sweep_events", "schedule": 10.0},
    # Active agents with no agent screen open for OMNICO_AWAY_SECONDS become away.
    "sweep-away-agents": {
        "task": "tickets.presence_away_sweep",
        "schedule": float(OMNICO_AWAY_SWEEP_SECONDS),
    },
    # Replies whose task is overdue (lost with a dead worker or broker): 30 s + the sweep's 15 s
    # grace puts a lost reply back in the queue within 45 s of when it was due.
    "sweep-outbound-messages": {"task": "channels_adapters.sweep_outbound", "schedule": 30.0},
    # Files a channel only named (Telegram, WhatsApp) and that could not be fetched yet.
    "fetch-attachments": {"task": "channels_adapters.sweep_attachments", "schedule": 60.0},
    # Routing skips its locks when no agent has a free slot; this bounds a lost race to 30 s.
    "drain-pool": {"task": "tickets.pool_drain", "schedule": 30.0},
    # Tickets whose agent did not answer the customer in time (admin: routing settings; off by
    # default) go back to the pool; the drain above also lets overflowing departments overflow.
    "requeue-unanswered": {"task": "tickets.requeue_unanswered", "schedule": 30.0},
    # Web chat replies a visitor did not see, mailed to those who asked (one mail per batch).
    "webchat-away-mail": {"task": "channels_adapters.webchat.away_mail_sweep", "schedule": 30.0},
    # WhatsApp message templates (their approval status changes at Meta): hourly.
    "sync-whatsapp-templates": {
        "task": "channels_adapters.whatsapp.sync_templates",
        "schedule": float(env_int("OMNICO_TEMPLATE_SYNC_SECONDS", 3600, minimum=60)),
    },
    # Hourly statistics (reports/services.py): finished hours not yet computed (a missed one
    # is filled, OMNICO_STATS_CATCH_UP_HOURS per run) and the current hour, for the homepage.
    "stats-refresh": {
        "task": "reports.stats_refresh",
        "schedule": float(OMNICO_STATS_REFRESH_SECONDS),
    },
    "poll-mail": {
        "task": "channels_adapters.email.poll_mail_accounts",
        "schedule": float(MAIL_POLL_INTERVAL),
        "options": {"expires": float(MAIL_POLL_INTERVAL)},
    },
}

# WooCommerce (customers/woocommerce/): a customer's cached orders older than this are fetched
# again when an agent opens their ticket; the shop's customers of open and pending tickets are
# refreshed every OMNICO_WOO_REFRESH_SECONDS; a refresh reads at most this many pages of 100.
OMNICO_WOO_STALE_SECONDS = env_int("OMNICO_WOO_STALE_SECONDS", 300, minimum=10)
OMNICO_WOO_REFRESH_SECONDS = env_int("OMNICO_WOO_REFRESH_SECONDS", 900, minimum=60)
OMNICO_WOO_MAX_PAGES = env_int("OMNICO_WOO_MAX_PAGES", 5, minimum=1)
CELERY_BEAT_SCHEDULE["woocommerce-refresh-active"] = {
    "task": "inbox.woo_refresh_active",
    "schedule": float(OMNICO_WOO_REFRESH_SECONDS),
    "options": {"expires": float(OMNICO_WOO_REFRESH_SECONDS)},
}

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in attempts (agent screen and admin alike) go through django-axes first: after
# OMNICO_LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# refused for OMNICO_LOGIN_COOLOFF_MINUTES (a staff user can lift it in the admin: Axes); after
# OMNICO_LOGIN_USERNAME_FAILURE_LIMIT from any addresses, the username is (omnico/lockout.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("OMNICO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("OMNICO_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
OMNICO_LOGIN_USERNAME_FAILURE_LIMIT = env_int(
    "OMNICO_LOGIN_USERNAME_FAILURE_LIMIT", 20, minimum=AXES_FAILURE_LIMIT
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "omnico.lockout.LockoutHandler"
# The address is REMOTE_ADDR, never a header a client can write: the server (``manage.py
# serve``) puts the forwarded address there only for a request from OMNICO_TRUSTED_PROXIES.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("tr", _("Turkish"))]
LOCALE_PATHS = [BASE_DIR / "omnico" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Istanbul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The image collects them at build time into /app/staticfiles, outside the var/ volume.
STATIC_ROOT = Path(env_str("OMNICO_STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("OMNICO_MEDIA_ROOT", str(VAR_DIR / "media")))
# Production (the image, scripts/run, a Procfile's serve): static files are collected before
# serving into STATIC_ROOT with content-hashed names (css/omnico.3f2a...css) and gzip and
# Brotli copies, and WhiteNoise serves only those: a hashed name is cached for ten years
# ("immutable"), since a changed file gets a new name; an unhashed name for WHITENOISE_MAX_AGE.
# {% static %} fails loudly for a file missing from the manifest. Off (tests, development):
# the source files are served as they are, through the finders.
STATIC_COLLECTED = env_bool("OMNICO_STATIC_COLLECTED", False) and not DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
WHITENOISE_AUTOREFRESH = DEBUG
if STATIC_COLLECTED:
    # For unhashed names only (a hashed one gets ten years): the originals collectstatic keeps
    # beside the hashed copies, such as /favicon.ico's target. Short, so a deploy shows.
    WHITENOISE_MAX_AGE = env_int("OMNICO_STATIC_MAX_AGE", 300, minimum=0)

# --- Security -------------------------------------------------------------------------------
# Behind HTTPS (production) set OMNICO_HTTPS=1: secure cookies, HSTS and the HTTPS redirect.
HTTPS = env_bool("OMNICO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS and env_bool("OMNICO_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^hooks/"]
# Addresses (or networks) of the reverse proxies in front of Omnico, comma separated; default
# none. Only a request from one of them has its X-Forwarded-For / X-Forwarded-Proto believed:
# the server then gives the app the client's address and scheme (uvicorn's proxy headers), so
# the sign-in lockout and the webhook rate limit count real addresses. Anyone else's forwarded
# headers are ignored. Without a list, OMNICO_HTTPS still believes X-Forwarded-Proto as before
# (it only tells whether the client's own connection was HTTPS: a liar skips its own redirect).
OMNICO_TRUSTED_PROXIES = env_list("OMNICO_TRUSTED_PROXIES", [])
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS and not OMNICO_TRUSTED_PROXIES else None
)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("OMNICO_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page (django-csp): scripts, styles, images, fonts and
# connections (fetch, htmx, the websocket) from this site only; no inline script or style, no
# eval (htmx is told so in base.html: no injected indicator style, no eval), no plugins, no
# framing, forms post here only. ``data:`` images: the browser's own small icons in forms.
# A response that sets its own policy keeps it (the attachment view: default-src 'none').
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("OMNICO_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- Webhooks (README, "Security") ------------------------------------------------------------
#: Webhook POSTs are answered by a lean ASGI path (channels_adapters/asgi.py); off, Django's
#: full stack answers them, identically but slower.
OMNICO_WEBHOOK_FAST_PATH = env_bool("OMNICO_WEBHOOK_FAST_PATH", True)
#: Websockets compress with permessage-deflate, each frame once for all of a web process's
#: sockets (omnico/ws_protocol.py); off, frames go uncompressed (less CPU, ~5x the bandwidth).
OMNICO_WS_COMPRESSION = env_bool("OMNICO_WS_COMPRESSION", True)
#: The API channel's largest body (Telegram, WhatsApp and Messenger have their providers' own).
OMNICO_API_MAX_BODY_BYTES = env_int("OMNICO_API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
#: Webhook requests allowed per account (the URL's channel and name) and per client address,
#: in fixed windows; over it the answer is 429 with Retry-After and providers retry later.
#: Counted in Redis in the full stack (shared by every web process), in memory when embedded.
OMNICO_WEBHOOK_RATE_PER_ACCOUNT = env_rate("OMNICO_WEBHOOK_RATE_PER_ACCOUNT", "20000/minute")
OMNICO_WEBHOOK_RATE_PER_ADDRESS = env_rate("OMNICO_WEBHOOK_RATE_PER_ADDRESS", "20000/minute")
OMNICO_WEBHOOK_RATE_STORAGE = REDIS_URL or "memory://"
# Web chat: a transcript by e-mail at most once per this many seconds per visitor; agents'
# replies a visitor has not seen are mailed (if they asked) once the agent has been quiet this long.
OMNICO_WEBCHAT_TRANSCRIPT_INTERVAL_SECONDS = env_int(
    "OMNICO_WEBCHAT_TRANSCRIPT_INTERVAL_SECONDS", 300, minimum=0
)
OMNICO_WEBCHAT_AWAY_MAIL_SECONDS = env_int("OMNICO_WEBCHAT_AWAY_MAIL_SECONDS", 120, minimum=1)
#: How long a webhook (and /healthz) waits for a database connection before answering 503 with
#: Retry-After: with the database down or restarting, providers retry; nothing is acknowledged
#: that is not stored. Requests and tasks otherwise wait up to the pool's timeout (10 s).
OMNICO_WEBHOOK_DB_WAIT_MS = env_int("OMNICO_WEBHOOK_DB_WAIT_MS", 800, minimum=1)
OMNICO_WEBHOOK_DB_RETRY_AFTER = env_int("OMNICO_WEBHOOK_DB_RETRY_AFTER", 5, minimum=1)
#: Hosts (and their subdomains) Messenger attachments are fetched from: Meta's CDN links
#: expire, so the file is kept. A link to any other host stays a link.
OMNICO_MESSENGER_MEDIA_HOSTS = env_list("OMNICO_MESSENGER_MEDIA_HOSTS", ["fbcdn.net", "fbsbx.com"])
#: The largest file fetched from a channel's servers (a Telegram file, a WhatsApp media).
OMNICO_MAX_ATTACHMENT_BYTES = env_int("OMNICO_MAX_ATTACHMENT_BYTES", 50 * 1024 * 1024, minimum=1024)
#: The support page's uploads: the largest file a visitor may attach, and the types taken,
#: checked against the file's content (its magic bytes), never its name or the browser's word.
OMNICO_SUPPORT_UPLOAD_MAX_BYTES = env_int(
    "OMNICO_SUPPORT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024
)
OMNICO_SUPPORT_UPLOAD_TYPES = env_list(
    "OMNICO_SUPPORT_UPLOAD_TYPES",
    [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "text/plain",
        "text/csv",
    ],
)
#: Fetched attachments and their folders are the owner's only, like the rest of var/: files are
#: served to signed-in agents by the attachment view, never by a web server reading the folder.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- The support page's abuse limits (channels_adapters/webchat/limits.py) ---------------------
#: Starting a chat, sending a message and the offline form, per client address and per visitor
#: (the signed cookie), in fixed windows; over one the visitor is told to slow down (429).
#: Counted in Redis in the full stack (shared by every web process), in memory when embedded.
OMNICO_SUPPORT_RATE_START_PER_ADDRESS = env_rate("OMNICO_SUPPORT_RATE_START_PER_ADDRESS", "60/hour")
OMNICO_SUPPORT_RATE_START_PER_VISITOR = env_rate("OMNICO_SUPPORT_RATE_START_PER_VISITOR", "10/hour")
OMNICO_SUPPORT_RATE_MESSAGE_PER_ADDRESS = env_rate(
    "OMNICO_SUPPORT_RATE_MESSAGE_PER_ADDRESS", "300/minute"
)
OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = env_rate(
    "OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR", "20/minute"
)
OMNICO_SUPPORT_RATE_OFFLINE_PER_ADDRESS = env_rate(
    "OMNICO_SUPPORT_RATE_OFFLINE_PER_ADDRESS", "20/hour"
)
OMNICO_SUPPORT_RATE_OFFLINE_PER_VISITOR = env_rate(
    "OMNICO_SUPPORT_RATE_OFFLINE_PER_VISITOR", "5/hour"
)
OMNICO_SUPPORT_RATE_STORAGE = REDIS_URL or "memory://"
#: This site's public address as customers' browsers reach it (scheme, host, port), e.g.
#: https://help.example.com: the admin's embed snippet points there. Unset: the address of the
#: admin's own request.
OMNICO_PUBLIC_URL = env_str("OMNICO_PUBLIC_URL", "").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    "loggers": {"django.db.backends": {"level": "INFO"}, "httpx": {"level": "WARNING"}},
}

# Demo data and embedded-runner knobs.
OMNICO_DEMO_PASSWORD = env_str("OMNICO_DEMO_PASSWORD", "")
OMNICO_DEMO_SECRET = env_str("OMNICO_DEMO_SECRET", "")
OMNICO_SCHEDULER = env_bool("OMNICO_SCHEDULER", not REDIS_URL)

# Outgoing webhooks (tickets/webhooks.py, docs/webhooks.md): each POST waits at most
# OMNICO_WEBHOOK_TIMEOUT_SECONDS; a failed one is tried again after each of
# OMNICO_WEBHOOK_RETRY_SECONDS in turn (the last repeats) until OMNICO_WEBHOOK_MAX_ATTEMPTS tries,
# then given up. The sweep sends what is due every OMNICO_WEBHOOK_SWEEP_SECONDS. Endpoints on
# private, loopback or link-local addresses (and plain http to loopback) need
# OMNICO_WEBHOOK_ALLOW_PRIVATE.
OMNICO_WEBHOOK_TIMEOUT_SECONDS = env_int("OMNICO_WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
OMNICO_WEBHOOK_MAX_ATTEMPTS = env_int("OMNICO_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
try:
    OMNICO_WEBHOOK_RETRY_SECONDS = [
        int(item)
        for item in env_list("OMNICO_WEBHOOK_RETRY_SECONDS", ["30", "120", "600", "3600", "21600"])
    ]
except ValueError:
    raise ImproperlyConfigured(
        "OMNICO_WEBHOOK_RETRY_SECONDS must be comma-separated whole seconds, e.g. 30,120,600"
    ) from None
if not OMNICO_WEBHOOK_RETRY_SECONDS or min(OMNICO_WEBHOOK_RETRY_SECONDS) < 1:
    raise ImproperlyConfigured(
        "OMNICO_WEBHOOK_RETRY_SECONDS needs at least one delay of 1 s or more"
    )
OMNICO_WEBHOOK_SWEEP_SECONDS = env_int("OMNICO_WEBHOOK_SWEEP_SECONDS", 15, minimum=1)
OMNICO_WEBHOOK_ALLOW_PRIVATE = env_bool("OMNICO_WEBHOOK_ALLOW_PRIVATE", False)
CELERY_BEAT_SCHEDULE["sweep-webhooks"] = {
    "task": "tickets.webhook_sweep",
    "schedule": float(OMNICO_WEBHOOK_SWEEP_SECONDS),
}

# --- REST API (/api/v1/) ----------------------------------------------------------------------
#: Requests per API token, e.g. 600/minute (counted in the cache: Redis in the full stack).
OMNICO_API_RATE = env_rate("OMNICO_API_RATE", "600/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["configuration.api_auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["configuration.api_auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["configuration.api_auth.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "configuration.api_base.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Omnico API",
    "DESCRIPTION": (
        "Customers, carts and tickets for integrations. Authenticate with "
        "`Authorization: Bearer <token>` (tokens are created by admins under Settings > API "
        "tokens). Every error has the shape "
        '`{"error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}`. '
        "See docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "configuration.api_base.error_responses_hook",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.TicketStatus",
        "CartStatusEnum": "customers.services.CART_STATUSES",
        "ChannelKindEnum": "configuration.models.ChannelKind",
    },
}
