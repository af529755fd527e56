"""Create the demo organization, an admin API key and a staff login; print the secrets once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tenancy import services
from tenancy.choices import APIKeyRole, Role
from tenancy.models import Organization, OrganizationAPIKey
from tenancy.rls import rls_bypass

DEMO_SLUG = "demo"
DEMO_KEY_NAME = "demo"


class Command(BaseCommand):
    help = (
        "Create a demo organization with an admin API key and a staff superuser. Secrets are "
        "printed only when created; run again with --new-key or --reset-password for new ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--new-key", action="store_true", help="Issue another demo API key.")
        parser.add_argument("--reset-password", action="store_true", help="Set a new random password.")
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the server will listen, for the example printed (make run passes HOST and PORT).",
        )

    @transaction.atomic
    @rls_bypass(reason="bootstrap_demo")
    def handle(self, *args, username, new_key, reset_password, base_url, **options):
        organization = Organization.objects.filter(slug=DEMO_SLUG).first()
        if organization is None:
            organization = services.organization_create(name="Demo Organization", slug=DEMO_SLUG)

        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = user_model.objects.create_superuser(username=username, email="", password=password)
        elif reset_password:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
        services.membership_add(organization=organization, user=user, role=Role.OWNER)

        plain_key = None
        has_key = OrganizationAPIKey.objects.filter(
            organization=organization, name=DEMO_KEY_NAME, revoked=False
        ).exists()
        if new_key or not has_key:
            _, plain_key = services.api_key_create(
                organization=organization, name=DEMO_KEY_NAME, role=APIKeyRole.ADMIN
            )

        self.stdout.write(f"Organization: {organization.name} ({organization.slug})")
        if password:
            self.stdout.write(self.style.WARNING(f"Staff login:  {username} / {password}  (shown once)"))
        else:
            self.stdout.write(f"Staff login:  {username} (exists; --reset-password for a new password)")
        if plain_key:
            self.stdout.write(self.style.WARNING(f"API key:      {plain_key}  (shown once)"))
            models_url = f"{base_url.rstrip('/')}/api/v1/models/"
            self.stdout.write(f'Try:          curl -H "Authorization: Api-Key {plain_key}" {models_url}')
        else:
            self.stdout.write("API key:      exists (--new-key issues another)")
