"""``Widget``: the smallest model that has everything a tenant model has."""

from django.db import models

from tenancy.models import SoftDeleteModel, TenantModel, unique_while_alive


class Widget(SoftDeleteModel, TenantModel):
    """A tenant row with a slug unique per organization while alive and an optional parent."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        app_label = "testapp"
        constraints = [unique_while_alive("organization", "slug", name="widget_unique_slug_per_org")]

    def __str__(self):
        return self.name
