"""Projection tables: derived from events only, updated inline on write, rebuilt by replay.

They are defined by a function so that ``grantledger replay`` can build the very same tables
under another name (``replay_*``) and diff them against the live ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ledger.store.schema import Json, Position, metadata

Money = sa.BigInteger  # öre


def _define(md: sa.MetaData, prefix: str = "") -> dict[str, sa.Table]:
    def name(n: str) -> str:
        return f"{prefix}{n}"

    grants = sa.Table(
        name("grants"),
        md,
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("funder", sa.String(500), nullable=False),
        sa.Column("decision", Json, nullable=False),
        sa.Column("spend_from", sa.Date, nullable=False),
        sa.Column("spend_to", sa.Date, nullable=False),
        sa.Column("repayment_reference", sa.String(200), nullable=True),
        sa.Column("reporting", Json, nullable=False),
        sa.Column("closed_years", Json, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    areas = sa.Table(
        name("areas"),
        md,
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("cost_object", sa.String(64), nullable=False),
        sa.Column("responsible", sa.String(500), nullable=False),
        sa.Column("ring_fenced", sa.Boolean, nullable=False),
    )
    activities = sa.Table(
        name("activities"),
        md,
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("responsible", sa.String(500), nullable=False),
        sa.Column("new_activity", sa.Boolean, nullable=False),
        sa.Column("exit_plan", sa.Text, nullable=True),
        sa.Column("decision", Json, nullable=True),
    )
    # Today's balance of every account of every grant: balances are O(accounts) reads.
    account_balances = sa.Table(
        name("account_balances"),
        md,
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("balance", Money, nullable=False),
    )
    # One row per transfer, for as-of (business date) and known-at (recorded time) questions
    # and for exports auditors check with their own tools.
    postings = sa.Table(
        name("postings"),
        md,
        sa.Column("position", Position, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.SmallInteger, primary_key=True),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index(name("ix_postings_grant_date"), "grant_id", "effective_date"),
    )
    # The same money summed per booking date and movement (source → target): an as-of balance
    # reads days × movements rows, not every posting (the postings stay for known-at questions
    # and exports).  One row per movement, not per account: a batch of spend lines writes half
    # the rows, since each line moves money between two accounts on one day.
    daily_transfers = sa.Table(
        name("daily_transfers"),
        md,
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("amount", Money, nullable=False),
    )
    spend_lines = sa.Table(
        name("spend_lines"),
        md,
        sa.Column("transaction_id", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("line_id", sa.String(200), nullable=True),
        sa.Column("voucher", sa.String(200), nullable=True),
        sa.Column("booked_on", sa.Date, nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("cost_object", sa.String(64), nullable=False),
        sa.Column("area", sa.String(64), nullable=True),
        sa.Column("activity", sa.String(64), nullable=True),
        sa.Column("account", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("text", sa.String(1000), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reversal_of", sa.String(64), nullable=True),
        sa.Column("reversed_by", sa.String(64), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("position", Position, nullable=False),
        # The posting a recorded line made (a spend line moves money once: ``transfers``), kept
        # on its row instead of a ``postings`` row of its own: a batch then writes one row per
        # line to the projections, not two.  NULL on a reversal's row (its postings are rows).
        sa.Column("posted_source", sa.String(200), nullable=True),
        sa.Column("posted_target", sa.String(200), nullable=True),
        sa.Column(
            "posted_at", sa.DateTime(timezone=True), nullable=True
        ),  # the event's recorded_at
        # The natural key of a line from a finance system (DESIGN §2).
        # line_id first: lookups of a batch are "line_id IN (…) AND source = …".
        sa.UniqueConstraint("line_id", "source", name=name("uq_spend_lines_natural_key")),
        sa.Index(name("ix_spend_lines_grant"), "grant_id", "position"),
        sa.Index(name("ix_spend_lines_cost_object"), "cost_object"),
    )
    # Rule 5: a (cost object, booking date) pair finds exactly one grant.
    cost_object_routes = sa.Table(
        name("cost_object_routes"),
        md,
        sa.Column("cost_object", sa.String(64), primary_key=True),
        sa.Column("grant_id", sa.String(64), primary_key=True),
        sa.Column("spend_from", sa.Date, nullable=False),
        sa.Column("spend_to", sa.Date, nullable=False),
    )
    closed_periods = sa.Table(
        name("closed_periods"),
        md,
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("position", Position, nullable=False),
    )
    return {
        "grants": grants,
        "areas": areas,
        "activities": activities,
        "account_balances": account_balances,
        "postings": postings,
        "daily_transfers": daily_transfers,
        "spend_lines": spend_lines,
        "cost_object_routes": cost_object_routes,
        "closed_periods": closed_periods,
    }


@dataclass(frozen=True)
class ProjectionTables:
    grants: sa.Table
    areas: sa.Table
    activities: sa.Table
    account_balances: sa.Table
    postings: sa.Table
    daily_transfers: sa.Table
    spend_lines: sa.Table
    cost_object_routes: sa.Table
    closed_periods: sa.Table

    @classmethod
    def define(cls, md: sa.MetaData, prefix: str = "") -> ProjectionTables:
        return cls(**_define(md, prefix))

    def every_posting(self) -> sa.Subquery:
        """Every posting in one shape: the ``postings`` rows, and the one posting of each
        recorded spend line, kept on its ``spend_lines`` row (``posted_*``)."""
        p, lines = self.postings, self.spend_lines
        return sa.union_all(
            sa.select(
                p.c.position,
                p.c.seq,
                p.c.grant_id,
                p.c.source,
                p.c.target,
                p.c.amount,
                p.c.effective_date,
                p.c.recorded_at,
            ),
            sa.select(
                lines.c.position,
                sa.literal(0, sa.SmallInteger).label("seq"),
                lines.c.grant_id,
                lines.c.posted_source.label("source"),
                lines.c.posted_target.label("target"),
                sa.func.abs(lines.c.amount).label("amount"),
                lines.c.booked_on.label("effective_date"),
                lines.c.posted_at.label("recorded_at"),
            ).where(lines.c.posted_source.is_not(None)),
        ).subquery("every_posting")

    def all(self) -> list[sa.Table]:
        return [
            self.grants,
            self.areas,
            self.activities,
            self.account_balances,
            self.postings,
            self.daily_transfers,
            self.spend_lines,
            self.cost_object_routes,
            self.closed_periods,
        ]


LIVE = ProjectionTables.define(metadata)
