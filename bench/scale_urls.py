"""The product's URLs plus the floor of ``bench/scale.py``: bare Django views (no DRF, no
authentication, no serializers) doing one indexed SELECT or one INSERT into the same table the
API writes, so every API figure can be read as a multiple of what Django + PostgreSQL cost."""

import json

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as product_urlpatterns
from tenancy import rls

_INSERT_SQL = None


def floor_select(request):
    """One generation by (organization, request_id): the unique index's look-up."""
    organization = int(request.GET["organization"])
    # Under row-level security like the API: the one organization's rows admitted (the scope is
    # set on the connection, as the API's authentication does).
    with rls.rls_organizations([organization]), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, cost_usd, created_at FROM generations_generation "
            "WHERE organization_id = %s AND request_id = %s AND deleted_at IS NULL",
            [organization, request.GET["request_id"]],
        )
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"detail": "not found"}, status=404)
    return JsonResponse({"id": row[0], "status": row[1], "cost_usd": str(row[2]), "created_at": row[3]})


def _insert_sql():
    global _INSERT_SQL
    if _INSERT_SQL is None:
        from bench.scale_data import _insert
        from generations.models import Generation

        values = (
            "(VALUES (%s::bigint, %s, %s, %s::bigint, %s::bigint, now())) AS v(org, rid, body, inp, outp, t)"
        )
        sql, params = _insert(
            Generation,
            {
                "organization_id": "v.org",
                "request_id": "v.rid",
                "content": "v.body",
                "input_tokens": "v.inp",
                "output_tokens": "v.outp",
                "total_tokens": "v.inp + v.outp",
                "status": "'success'",
                "created_at": "v.t",
            },
            values,
            connection,
        )
        _INSERT_SQL = (sql + " RETURNING id", params)
    return _INSERT_SQL


@csrf_exempt
def floor_insert(request):
    """One generation row from a JSON body: one INSERT, no validation, pricing or audit."""
    body = json.loads(request.body)
    sql, params = _insert_sql()
    usage = body.get("usage", {})
    inputs = usage.get("prompt_tokens") or usage.get("input_tokens") or usage.get("promptTokenCount") or 0
    outputs = usage.get("completion_tokens") or usage.get("output_tokens") or 0
    organization = int(request.GET["organization"])
    with rls.rls_organizations([organization]), connection.cursor() as cursor:
        cursor.execute(sql, [*params, organization, body["request_id"], body["content"], inputs, outputs])
        new_id = cursor.fetchone()[0]
    return HttpResponse(json.dumps({"id": new_id}), status=201, content_type="application/json")


urlpatterns = [
    path("floor/select/", floor_select),
    path("floor/insert/", floor_insert),
    *product_urlpatterns,
]
