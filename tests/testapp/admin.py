from django.contrib import admin

from tenancy.admin_mixins import InkwellModelAdmin
from tests.testapp.models import Widget


@admin.register(Widget)
class WidgetAdmin(InkwellModelAdmin):
    list_display = ["name", "slug", "organization", "deleted_at"]
    fields = ["organization", "name", "slug", "parent"]
