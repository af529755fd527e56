"""What the admin reads from a URL or a form that Django passes to PostgreSQL unchecked.

Django's admin accepts any lookup on a model's own fields from the changelist's query string,
any value in an action's selection and any value in an autocomplete field; a value the database
or Python's calendar cannot take ends in a 500 instead of the admin's own error. Every
registered admin gets :class:`AdminInputGuardsMixin` (``tenancy.admin_walls.walled``), so the
guards hold for the apps' admins and for the ones libraries bring (auth, the job queue). NUL
characters in URLs are refused before any admin runs (``tenancy.middleware.UnstorableTextMiddleware``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError

from tenancy.api.fields import EARLIEST_DATE, LATEST_DATE

# A pattern PostgreSQL refuses to compile is a DataError when the page renders.
REFUSED_LOOKUPS = frozenset({"regex", "iregex"})
YEAR_LOOKUPS = frozenset({"year", "iso_year"})


def _valid_for(field, value) -> bool:
    """Whether ``value`` (text from a URL or a form) is a value of model ``field``."""
    if isinstance(value, str) and "\x00" in value:  # a text key would take it; PostgreSQL would not
        return False
    try:
        field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


class _ValidChoicesOnly:
    """An autocomplete widget that redraws only the submitted values its field can hold: Django
    looks every one up to label it, so ``user=abc`` on an integer key was a 500, not the form's
    "Select a valid choice"."""

    def optgroups(self, name, value, attr=None):
        target = self.field.remote_field.model._meta.get_field(self.field.remote_field.field_name)
        kept = [each for each in value if each in (None, "") or _valid_for(target, each)]
        return super().optgroups(name, kept, attr)


class SafeAutocompleteSelect(_ValidChoicesOnly, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_ValidChoicesOnly, AutocompleteSelectMultiple):
    pass


class AdminInputGuardsMixin:
    """Changelist lookups, action selections and autocomplete values that cannot be true are the
    admin's usual answers (a 400 for a lookup, a warning for a selection, a form error for a
    choice), never a 500."""

    def lookup_allowed(self, lookup, value, request=None):
        parts = lookup.split("__")
        if parts[-1] in REFUSED_LOOKUPS:
            return False
        if parts[-1] in YEAR_LOOKUPS:
            # Years past the API's window overflow the next year's bound the changelist computes.
            try:
                year = int(value)
            except (TypeError, ValueError):
                return False
            if not EARLIEST_DATE.year <= year <= LATEST_DATE.year:
                return False
        return super().lookup_allowed(lookup, value, request)

    def response_action(self, request, queryset):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        pk = self.model._meta.pk
        if not all(_valid_for(pk, value) for value in selected):
            message = "The selection named rows that cannot exist; nothing was done."
            self.message_user(request, message, messages.WARNING)
            return None
        return super().response_action(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)
