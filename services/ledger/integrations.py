"""Small reads the integrations (SIE import, exports) need from the projections."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.db import read_transaction
from ledger.projections.tables import LIVE, ProjectionTables


def spend_periods(
    engine: Engine, tables: ProjectionTables = LIVE
) -> dict[str, tuple[tuple[date, date], ...]]:
    """Every cost object some grant books spend on, with those grants' spend periods."""
    routes = tables.cost_object_routes
    found: dict[str, list[tuple[date, date]]] = {}
    with read_transaction(engine) as conn:
        rows = conn.execute(
            sa.select(routes.c.cost_object, routes.c.spend_from, routes.c.spend_to).order_by(
                routes.c.cost_object, routes.c.spend_from
            )
        )
        for cost_object, spend_from, spend_to in rows:
            found.setdefault(cost_object, []).append((spend_from, spend_to))
    return {code: tuple(periods) for code, periods in found.items()}


def known_cost_objects(engine: Engine, tables: ProjectionTables = LIVE) -> set[str]:
    """The cost objects of every registered grant (the cost_object_routes projection)."""
    return set(spend_periods(engine, tables))
