"""``manage.py rotate_encryption_key``: re-encrypt every secret from old to new key material.

Keys come from options or, better (options show in the process list), from the environment:
``OLD_CRYPTOGRAPHY_KEY`` / ``NEW_CRYPTOGRAPHY_KEY`` / ``OLD_SECRET_KEY`` / ``NEW_SECRET_KEY``.
Old values default to the running settings; the new ``SECRET_KEY`` defaults to the old one.
See README, "Rotating the encryption key".
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from providers.crypto import KeyMaterial
from providers.key_rotation import RotationAborted, encryption_key_rotate
from tenancy.rls import rls_bypass


class Command(BaseCommand):
    help = "Re-encrypt every encrypted secret with new CRYPTOGRAPHY_KEY / SECRET_KEY, in one transaction."

    def add_arguments(self, parser):
        for name in ("old-cryptography-key", "new-cryptography-key", "old-secret-key", "new-secret-key"):
            parser.add_argument(f"--{name}", default=None, help=f"Or ${name.upper().replace('-', '_')}.")
        parser.add_argument("--dry-run", action="store_true", help="Rotate, verify, then roll back.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    @staticmethod
    def _value(options, name):
        return options[name.replace("-", "_")] or os.environ.get(name.upper().replace("-", "_")) or None

    @rls_bypass(reason="rotate_encryption_key: every organization's secrets")
    def handle(self, *args, **options):
        old_crypto = self._value(options, "old-cryptography-key") or settings.CRYPTOGRAPHY_KEY
        old_secret = self._value(options, "old-secret-key") or settings.SECRET_KEY
        new_crypto = self._value(options, "new-cryptography-key")
        new_secret = self._value(options, "new-secret-key") or old_secret
        if not new_crypto and new_secret == old_secret:
            raise CommandError(
                "Give the new key: --new-cryptography-key or NEW_CRYPTOGRAPHY_KEY (and/or a new SECRET_KEY)."
            )
        old = KeyMaterial(cryptography_key=old_crypto, secret_key=old_secret)
        new = KeyMaterial(cryptography_key=new_crypto or old_crypto, secret_key=new_secret)

        def progress(rows, total, label):
            return tqdm(
                rows, total=total, desc=label, unit="row", disable=options["no_progress"], file=self.stderr
            )

        try:
            report = encryption_key_rotate(old=old, new=new, dry_run=options["dry_run"], progress=progress)
        except RotationAborted as exc:
            raise CommandError(f"Rotation aborted, nothing changed: {exc}") from None
        outcome = "verified and rolled back (dry run)" if report.dry_run else "committed"
        self.stdout.write(
            self.style.SUCCESS(
                f"Key {report.from_version} → {report.to_version}: {report.rotated} of {report.rows} secrets "
                f"re-encrypted, {report.already_rotated} already under the new key; {outcome} "
                f"in {report.seconds:.2f} s."
            )
        )
        if not report.dry_run:
            self.stdout.write(
                "Now set CRYPTOGRAPHY_KEY (and SECRET_KEY if it changed) to the new values "
                "and restart every process."
            )
