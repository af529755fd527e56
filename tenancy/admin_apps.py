"""``django.contrib.admin``'s app config with the walled site (INSTALLED_APPS names this)."""

from django.contrib.admin.apps import AdminConfig


class InkwellAdminConfig(AdminConfig):
    """``admin.site`` is :class:`tenancy.admin_walls.InkwellAdminSite`: every admin is walled."""

    default_site = "tenancy.admin_walls.InkwellAdminSite"
