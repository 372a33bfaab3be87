"""Choreo settings: everything that varies between deployments comes from the environment."""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from orchestrator.engine.tasks.builtin import BUILTIN_TASK_MODULES
from orchestrator.config import (
    env_bool, env_choice, env_float, env_int, env_str, env_task_user, protect_data_dir, secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent

CHOREO_DATA_DIR = Path(env_str("CHOREO_DATA_DIR", str(BASE_DIR / "data"))).resolve()
CHOREO_SHARED_DIR = Path(env_str("CHOREO_SHARED_DIR", str(BASE_DIR.parent / "shared"))).resolve()
CHOREO_MODE = env_choice("CHOREO_MODE", "standalone", ("standalone", "distributed"))
CHOREO_DATA_DIR.mkdir(parents=True, exist_ok=True)
# Task processes run as this user (see engine/tasks/isolation.py); "" runs them as the server's.
CHOREO_TASK_USER = env_task_user("CHOREO_TASK_USER")
if CHOREO_TASK_USER:
    # What the server writes (database, storage, secret key) is its own: the task user reads none of it.
    os.umask(0o077)
    protect_data_dir(CHOREO_DATA_DIR)

SECRET_KEY = secret_key(CHOREO_DATA_DIR)
DEBUG = env_bool("CHOREO_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env_str("CHOREO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "flows",
    "orchestrator.cli",
    "ui",
]

MIDDLEWARE = [
    "orchestrator.middleware.RefuseUnsafeMethods",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "orchestrator.urls"
WSGI_APPLICATION = "orchestrator.wsgi.application"
ASGI_APPLICATION = "orchestrator.asgi.application"

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
            ],
        },
    },
]

_default_db = f"sqlite:///{CHOREO_DATA_DIR / 'choreo.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _default_db), conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "orchestrator.dbsqlite"
    # WAL lets readers work while one writer commits; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on busy_timeout instead of failing with "database is
    # locked" when a read transaction tries to upgrade to a write.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        # A running engine checkpoints the WAL from its maintenance thread (store.checkpoint);
        # wal_autocheckpoint is the bound for processes without one (40 MB of WAL).
        # mmap_size: pages are read from a memory map, not copied by a read() each.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; "
                        "PRAGMA wal_autocheckpoint=10000; PRAGMA mmap_size=134217728;",
    }
    # A file (not :memory:) so engine threads share it; one per test process so two test
    # runs on one machine never delete each other's database.
    DATABASES["default"]["TEST"] = {"NAME": str(CHOREO_DATA_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = CHOREO_DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"without_traceback": {"()": "orchestrator.logfilters.WithoutTraceback"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler"},
        "stderr_one_line": {"class": "logging.StreamHandler", "filters": ["without_traceback"]},
    },
    "loggers": {
        # A request for a host not in CHOREO_ALLOWED_HOSTS is the client's error: one line, no traceback.
        "django.security.DisallowedHost": {"handlers": ["stderr_one_line"], "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": env_str("CHOREO_LOG_LEVEL", "WARNING")},
}

# --- Choreo engine ---------------------------------------------------------------
# Calls from the engine up to the edges go through these dotted paths.
CHOREO_TASK_MODULES = list(BUILTIN_TASK_MODULES) + [
    m.strip() for m in env_str("CHOREO_EXTRA_TASK_MODULES", "").split(",") if m.strip()
]
CHOREO_QUEUE_BACKEND = env_str("CHOREO_QUEUE_BACKEND", "orchestrator.engine.queue.local.LocalQueue")
CHOREO_EVENT_PUBLISHER = env_str("CHOREO_EVENT_PUBLISHER", "orchestrator.engine.events.NullPublisher")
CHOREO_STORAGE_BACKEND = env_str("CHOREO_STORAGE_BACKEND", "orchestrator.engine.storage.LocalStorage")
CHOREO_WORKER_THREADS = env_int("CHOREO_WORKER_THREADS", 8)
# Signals between processes: "auto" is LISTEN/NOTIFY on PostgreSQL and a polled table on
# SQLite; "local" reaches this process only.
CHOREO_BUS = env_choice("CHOREO_BUS", "auto", ("auto", "postgres", "table", "local"))
# Each engine or worker process renews its heartbeat this often; the executions and the
# attempts of a process whose heartbeat is older than the lease are taken over.
CHOREO_HEARTBEAT_SECONDS = env_float("CHOREO_HEARTBEAT_SECONDS", 1.0)
CHOREO_LEASE_SECONDS = env_float("CHOREO_LEASE_SECONDS", 10.0)
CHOREO_LOG_MESSAGE_MAX = env_int("CHOREO_LOG_MESSAGE_MAX", 64 * 1024)
CHOREO_OUTPUT_MAX = env_int("CHOREO_OUTPUT_MAX", 1024 * 1024)
# The log one task run attempt stores: its first lines and its last, with a marker between.
CHOREO_TASK_LOG_MAX_LINES = env_int("CHOREO_TASK_LOG_MAX_LINES", 10_000)
CHOREO_TASK_LOG_MAX_BYTES = env_int("CHOREO_TASK_LOG_MAX_BYTES", 4 * 1024 * 1024)
