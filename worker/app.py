"""The Celery app of the workers, configured from Settings so that a killed worker loses nothing."""

from __future__ import annotations

import functools
from typing import Any

from celery import Celery

from translator.config import Settings, check_settings, load_settings
from translator.errors import ConfigError

__all__ = [
    "DELIVER_BATCH",
    "QUEUE",
    "TRANSLATE_CHUNK",
    "app",
    "celery_config",
    "create_app",
    "worker_settings",
]

TRANSLATE_CHUNK = "translator.translate_chunk"
DELIVER_BATCH = "translator.deliver_batch"
QUEUE = "translator"


@functools.cache
def worker_settings() -> Settings:
    """The settings of this process (defaults < TRANSLATOR_CONFIG file < TRANSLATOR_* env), read
    and checked once. Raises ConfigError."""
    settings = load_settings()
    check_settings(settings)
    return settings


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for design §8 and §10.

    `acks_late` with `reject_on_worker_lost` and prefetch 1 make a message that a dying worker
    held come back to the queue; `visibility_timeout` (which must exceed the longest task) is how
    long Redis waits before it gives an unacknowledged message to another worker. JSON only: a
    message never runs code, and carries no credential (workers read those from their own
    configuration). Results are never stored: the run's counts live in Redis (worker.runs).
    A killed worker's messages come back after `visibility_timeout` plus at most one restore
    sweep (`unacked_restore_interval`, at most 10 s). Raises ConfigError on a visibility timeout
    shorter than twice `request_timeout` or a retry delay that cannot work.
    """
    timeout = settings.visibility_timeout
    if timeout < 1:
        raise ConfigError(f"visibility_timeout must be at least 1 second, not {timeout:g}")
    if timeout < 2 * settings.request_timeout:
        raise ConfigError(
            f"visibility_timeout ({timeout:g} s) must be at least twice request_timeout "
            f"({settings.request_timeout:g} s): one delivery task takes up to a request and a "
            "conflict's look-up, and a message held longer is given to another worker"
        )
    if settings.retry_initial <= 0 or settings.retry_max < settings.retry_initial:
        raise ConfigError("retry_initial must be positive and retry_max at least retry_initial")
    return {
        "broker_url": settings.redis_url,
        "broker_transport_options": {
            "visibility_timeout": timeout,
            # Sweep for messages of dead workers often enough for the timeout (a cheap ZRANGE).
            "unacked_restore_interval": max(1, min(10, int(timeout // 4))),
            "unacked_restore_throttle": 1,
        },
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "result_accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": QUEUE,
        # Tasks running when the broker connection drops are redone: redoing is harmless.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
    }


def create_app(settings: Settings | None = None) -> Celery:
    """A Celery app over the broker of `settings`; without them, configured lazily from the
    process's own settings (so importing the module does no work)."""
    celery = Celery("worker", include=["worker.tasks"], set_as_current=settings is None)
    if settings is not None:
        celery.conf.update(celery_config(settings))
    else:
        celery.add_defaults(lambda: celery_config(worker_settings()))
    return celery


app = create_app()
