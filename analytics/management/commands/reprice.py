"""``manage.py reprice``: price generations and provider calls again with the prices known now
(see ``analytics.repricing``)."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analytics.repricing import DEFAULT_BATCH_SIZE, reprice_count, reprice_run
from tenancy.management.options import organizations_option
from tenancy.rls import rls_bypass


def _moment(value: str) -> datetime.datetime:
    """An ISO date (its first moment, UTC) or an aware ISO datetime."""
    try:
        if len(value) == 10:
            return datetime.datetime.combine(
                datetime.date.fromisoformat(value), datetime.time.min, tzinfo=datetime.UTC
            )
        moment = datetime.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date or datetime (ISO 8601): {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


class Command(BaseCommand):
    help = (
        "Price generations and provider calls again with the prices known now, in batches (one "
        "transaction each, with its audit event and rollup moves). Running it twice changes "
        "nothing the second time; an interrupted run resumes by running it again (or with "
        "--start-after-generation/--start-after-call)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Slug; default every organization.")
        parser.add_argument("--model", help="Model name, alias or the name clients sent.")
        parser.add_argument("--from", dest="date_from", type=_moment, help="occurred_at from (included).")
        parser.add_argument("--to", dest="date_to", type=_moment, help="occurred_at until (excluded).")
        parser.add_argument("--only-unpriced", action="store_true", help="Only rows still unpriced.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument("--start-after-generation", type=int, default=0, help="Resume after this id.")
        parser.add_argument("--start-after-call", type=int, default=0, help="Resume after this id.")

    @rls_bypass(reason="reprice: rows of the organizations asked for, and their rollups")
    def handle(self, *args, **options):
        organization = (organizations_option(options["organization"]) or [None])[0]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["date_from"] and options["date_to"] and options["date_to"] <= options["date_from"]:
            raise CommandError("--to must be after --from.")
        scope = {
            "organization": organization,
            "model_name": options["model"],
            "date_from": options["date_from"],
            "date_to": options["date_to"],
            "only_unpriced": options["only_unpriced"],
        }
        total = reprice_count(**scope)
        with tqdm(total=total, unit="row", disable=options["verbosity"] == 0, file=self.stderr) as progress:
            report = reprice_run(
                **scope,
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                start_after={
                    "generations": options["start_after_generation"],
                    "provider_calls": options["start_after_call"],
                },
                progress=progress.update,
            )
        verb = "Would change" if options["dry_run"] else "Changed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {report.changed} of {report.examined} rows ({report.newly_priced} newly priced, "
                f"cost {report.cost_delta_usd:+f} USD) in {report.batches} batches; "
                f"last ids {report.last_id}."
            )
        )
