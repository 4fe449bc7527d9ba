"""The Celery workers: `celery -A worker worker` or `translator worker` (tasks in worker.tasks)."""

from __future__ import annotations

from worker.app import app

__all__ = ["app"]
