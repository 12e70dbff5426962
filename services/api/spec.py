"""The OpenAPI document as the server behaves: what FastAPI generates, finished in one place.

- Every error answer is the one ``Problem`` schema under ``application/problem+json`` (the
  only error media type the server sends), so a generated client reads a refusal as an object.
- FastAPI's own validation-error schema goes: our 422 is a Problem too.
- Links from what a POST answers to the reads it makes possible (a recorded line to
  ``getTransaction``, a grant's change to ``getGrant``), so clients and stateful fuzzers can
  follow a write to what it wrote.
- ``EventOut`` is typed per event type (``api.schemas.events``).
- An optional query or header parameter is its value's schema alone: FastAPI writes
  ``str | None`` as ``anyOf [string, null]``, but a query string or a header has no null (an
  absent parameter is the default), and a fuzzer that sends a "null" it takes for invalid finds a
  valid string (``GET /v1/events?stream=null`` answered 200: schemathesis's ST201).
"""

from __future__ import annotations

from typing import Any

from api.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

# The grant POSTs answer a ChangeOut whose grant_id names the grant they changed.
_GRANT_CHANGES = (
    "registerGrant",
    "allocateActivity",
    "reallocate",
    "amendAward",
    "recordReceipt",
    "repayUnspent",
    "closeGrantYear",
)
# The spend POSTs answer lines, each with the transaction it recorded and the grant it went to.
_SPEND_ANSWERS = ("postTransactions", "reverseTransaction", "classifyTransaction")
# What a client can do next with a grant it has just written to.
_GRANT_READS = ("getGrant", "listGrantEvents", "getGrantReport")
_GRANT_WRITES = ("allocateActivity", "recordReceipt", "amendAward", "reallocate")


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Finish FastAPI's document in place (idempotent) and return it."""
    operations = _operations(document)
    for operation in operations.values():
        _problems_only(operation)
        _no_null_parameters(operation)
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    _links(operations)
    return document


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for path in document.get("paths", {}).values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }


def _problems_only(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        if str(status)[0] in "45":
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}


def _no_null_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        values = [a for a in schema.get("anyOf", []) if a != {"type": "null"}]
        if parameter.get("in") in ("query", "header") and len(values) == 1 != len(schema["anyOf"]):
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            parameter["schema"] = {**values[0], **rest}


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters, "description": description}


def _links(operations: dict[str, dict[str, Any]]) -> None:
    def add(source: str, links: dict[str, Any]) -> None:
        if source not in operations:
            return
        for response in operations[source]["responses"].values():
            if "content" in response and "application/json" in response["content"]:
                response.setdefault("links", {}).update(
                    {
                        name: link
                        for name, link in links.items()
                        if link["operationId"] in operations
                    }
                )

    for source in _GRANT_CHANGES:
        grant = "$response.body#/grant_id"
        links = {
            r: _link(r, "The grant this request changed.", grant_id=grant) for r in _GRANT_READS
        }
        links.update(
            {w: _link(w, "Plan further on the same grant.", grant_id=grant) for w in _GRANT_WRITES}
        )
        add(source, links)
    for source in _SPEND_ANSWERS:
        line = "$response.body#/lines/0"
        add(
            source,
            {
                "getTransaction": _link(
                    "getTransaction",
                    "The first line this request recorded.",
                    transaction_id=f"{line}/transaction_id",
                ),
                "reverseTransaction": _link(
                    "reverseTransaction",
                    "Reverse the first line this request recorded.",
                    transaction_id=f"{line}/transaction_id",
                ),
                "getGrant": _link(
                    "getGrant", "The grant the first line went to.", grant_id=f"{line}/grant_id"
                ),
            },
        )
