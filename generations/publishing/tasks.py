"""Worker tasks of the publishing queue."""

from __future__ import annotations

import datetime

from django.db import close_old_connections
from procrastinate.contrib.django import app

from background.choices import JobQueue
from background.periodic import periodic_task
from generations.publishing import services
from tenancy.rls import rls_bypass


@app.task(name=services.PUBLISH_TASK, queue=JobQueue.PUBLISHING, priority=JobQueue.PUBLISHING.priority)
def publish_scheduled_post(post_id: int) -> str:
    """One delivery attempt of a scheduled post (see ``services.scheduled_post_publish``)."""
    close_old_connections()
    try:
        # A worker serves every organization: the post's own row says whose it is.
        with rls_bypass(reason="publishing worker: one scheduled post"):
            post = services.scheduled_post_publish(post_id=post_id)
        return "nothing to do" if post is None else post.status
    finally:
        close_old_connections()


@periodic_task(
    name="generations.publishing.requeue_overdue_posts",
    cron="*/5 * * * *",
    periodic_id="requeue_overdue_posts",
    queue=JobQueue.PUBLISHING,
)
def requeue_overdue_posts(timestamp: int) -> int:
    """Every 5 minutes: queue again any post more than 10 minutes overdue (a lost job)."""
    close_old_connections()
    try:
        with rls_bypass(reason="publishing worker: overdue posts of every organization"):
            return services.scheduled_posts_requeue_overdue(grace=datetime.timedelta(minutes=10))
    finally:
        close_old_connections()
