"""Examples for the OpenAPI document, taken from seed 003 (God och nära vård 2022)."""

from __future__ import annotations

from typing import Any

DECISION: dict[str, Any] = {
    "ref": "RS 2022-05-04 God och nära vård",
    "date": "2022-05-04",
    "body": "Regionstyrelsen",
}

GRANT: dict[str, Any] = {
    "grant_id": "gnv-2022",
    "name": "God och nära vård 2022",
    "funder": "Staten via SKR",
    "decision": DECISION,
    "spend_period": {"from": "2022-01-01", "to": "2022-12-31"},
    "areas": [
        {
            "code": "nara-vard",
            "name": "Utvecklingen av den nära vården med primärvården som nav",
            "awarded": "30593953.00",
            "cost_object": "9916",
            "responsible": "Handläggare HOSPA",
            "ring_fenced": False,
        },
        {
            "code": "vidareutbildning",
            "name": "Vidareutbildning för sjuksköterskor",
            "awarded": "5052676.00",
            "cost_object": "9917",
            "responsible": "HR strateg",
            "ring_fenced": True,
        },
    ],
    "reporting": [
        {"kind": "delredovisning", "due": "2022-09-30", "recipient": "Socialstyrelsen"},
        {"kind": "slutredovisning", "due": "2023-03-31", "recipient": "Socialstyrelsen"},
    ],
}

ACTIVITY: dict[str, Any] = {
    "code": "lokalt-arbete",
    "area": "nara-vard",
    "name": "Lokalt arbete med nära vård",
    "amount": "24000000.00",
    "responsible": "Beställarchef",
    "decision": DECISION,
    "new_activity": False,
    "exit_plan": None,
}

REALLOCATION: dict[str, Any] = {
    "from_activity": "lokalt-arbete",
    "to_activity": "barnhalsovard",
    "amount": "100000.00",
    "reason": "Fler hembesök till nya föräldrar",
    "decision": DECISION,
}

SPEND_BATCH: dict[str, Any] = {
    "source": "erp",
    "lines": [
        {
            "line_id": "V2022-00123-1",
            "voucher": "V2022-00123",
            "booked_on": "2022-03-31",
            "amount": "12345.67",
            "cost_object": "9916",
            "activity": "lokalt-arbete",
            "account": "4010",
            "kind": "expense",
            "text": "Konsultstöd vårdenhet",
        }
    ],
}

OVER_ALLOCATION_PROBLEM: dict[str, Any] = {
    "type": "https://grantledger.dev/problems/over-allocation",
    "title": "Over-allocation",
    "status": 422,
    "detail": "area 'vidareutbildning' of grant 'gnv-2022' has 5 052 676.00 kr unallocated; "
    "5 053 000.00 kr requested (324.00 kr too much)",
    "rule": "no-over-allocation",
    "grant_id": "gnv-2022",
    "area": "vidareutbildning",
    "available": "5052676.00",
    "requested": "5053000.00",
}
