"""Operators' view of the queue: procrastinate's job admin, plus a page of the periodic jobs with
their schedule, whether they are running, and their last run, above the queues' health (jobs
waiting, running and failed per queue; workers and their heartbeats)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin
from procrastinate.contrib.django.models import ProcrastinateJob

from background.selectors import periodic_jobs_overview, queue_health
from tenancy.admin_mixins import AdminPagesMixin

admin.site.unregister(ProcrastinateJob)


@admin.register(ProcrastinateJob)
class JobAdmin(AdminPagesMixin, ProcrastinateJobAdmin):
    """Procrastinate's read-only job list (retry, cancel, abort actions), with a link to the
    periodic jobs page."""

    change_list_template = "admin/background/job_change_list.html"

    admin_pages = [("periodic/", "periodic_view", "background_periodic_jobs")]

    # The queue is the platform's: every organization's jobs, their arguments naming rows. Its
    # operators are superusers; an organization's staff see their posts' state on the posts.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def periodic_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Periodic jobs",
            "opts": self.model._meta,
            "rows": periodic_jobs_overview(),
            "health": queue_health(),
        }
        return TemplateResponse(request, "admin/background/periodic_jobs.html", context)
