"""Request-rate throttling per API key (or per staff user)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from tenancy.models import OrganizationAPIKey


class APIKeyRateThrottle(SimpleRateThrottle):
    """``settings.API_THROTTLE_RATE`` requests per API key; 429 with ``Retry-After`` beyond."""

    scope = "api_key"

    def get_rate(self):
        # Read at call time (not import time) so settings overrides apply.
        return settings.API_THROTTLE_RATE

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, OrganizationAPIKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated and request.user.pk:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"
