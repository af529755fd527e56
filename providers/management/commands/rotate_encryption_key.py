"""``manage.py rotate_encryption_key``: re-encrypt every secret with ``CRYPTOGRAPHY_KEY``.

The rotation window: set ``CRYPTOGRAPHY_KEY`` to the new key and ``CRYPTOGRAPHY_OLD_KEYS`` to the
previous one(s) on every process (both keys read; new values use the new one), run this command
(batches commit as they go; interrupted, run it again; run after it finished, it finds 0 to
rotate), then drop ``CRYPTOGRAPHY_OLD_KEYS``. See README, "Rotating the encryption key".
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from providers.crypto import KeyRing
from providers.key_rotation import BATCH_SIZE, RotationAborted, encryption_key_rotate
from tenancy.rls import rls_bypass


class Command(BaseCommand):
    help = "Re-encrypt every encrypted secret with CRYPTOGRAPHY_KEY (old keys from CRYPTOGRAPHY_OLD_KEYS)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Rotate, verify, then roll back.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Rows per committed batch.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    @rls_bypass(reason="rotate_encryption_key: every organization's secrets")
    def handle(self, *args, **options):
        ring = KeyRing.from_settings()
        bars = []

        def progress(total, label):
            bar = tqdm(total=total, desc=label, unit="row", disable=options["no_progress"], file=self.stderr)
            bars.append(bar)
            return bar.update

        def announce(count):
            self.stdout.write(f"{count} to rotate to key {ring.current.version}.")
            self.stdout.flush()

        try:
            report = encryption_key_rotate(
                ring=ring,
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                progress=progress,
                announce=announce,
            )
        except RotationAborted as exc:
            raise CommandError(f"Rotation stopped: {exc}") from None
        finally:
            for bar in bars:
                bar.close()
        outcome = "verified and rolled back (dry run)" if report.dry_run else "committed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.rotated} of {report.to_rotate} secrets re-encrypted with key {report.to_version}; "
                f"{outcome} in {report.seconds:.2f} s."
            )
        )
