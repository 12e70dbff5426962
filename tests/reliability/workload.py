"""A finance system's day, compressed: many clients posting to real servers, and the audit after.

``setup_grants`` loads a few grants shaped for races: each has an area ``drift`` (two big
activities that budget moves between, a small ``src`` that reallocations race to empty, and a
``sink``) and an area ``race`` with no activities and room for exactly ``RACE_SLOTS`` allocations.

``Workload.run`` starts client threads that post spend batches, receipts, reversals,
reallocations and allocations to the servers round robin, each request with its own
Idempotency-Key, retried with the same key after a connection error or a 503 until it gets an
answer.  ``audit`` then checks the ledger against what the clients were told (see its docstring).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from ledger import migrate
from ledger.db import create_engine
from ledger.domain import commands as cmd
from ledger.domain.money import MAX_KRONOR
from tests.support.ledger import Ledger, account_sums, kr
from tests.support.servers import cli

SOURCE = "erp-load"
DECISION = {"ref": "RS/load/2022", "date": "2022-05-04", "body": "Regionstyrelsen"}
RACE_AMOUNT = kr(100_000)
RACE_SLOTS = 10
RACE_AWARD = RACE_AMOUNT * RACE_SLOTS + kr(50)  # room for exactly RACE_SLOTS allocations
SRC_BUDGET = kr(50_000)
SRC_MOVE = kr(10_000)  # src can give this exactly SRC_BUDGET // SRC_MOVE times
BIG = kr(40_000_000)

WEIGHTS = {
    "spend": 55,
    "receipt": 12,
    "reversal": 6,
    "realloc": 12,
    "realloc-src": 7,
    "allocate": 8,
}


def money(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


def setup_grants(database_url: str, count: int = 3) -> list[str]:
    """Migrate the database and load ``count`` grants (in-process, before any server)."""
    engine = create_engine(database_url, pool_size=2)
    migrate.upgrade(engine)
    ledger = Ledger(engine)
    grants = []
    for n in range(1, count + 1):
        grant_id = f"load-{n}"
        ledger.register(
            grant_id,
            [
                cmd.AreaSpec("drift", "Drift", kr(100_000_000), f"9{n}01", "Controller"),
                cmd.AreaSpec("race", "Kapplöpning", RACE_AWARD, f"9{n}02", "Controller"),
            ],
        )
        for code, amount in (("big-a", BIG), ("big-b", BIG), ("src", SRC_BUDGET), ("sink", 100)):
            ledger.allocate(grant_id, code, "drift", amount)
        grants.append(grant_id)
    engine.dispose()
    return grants


@dataclass
class Op:
    """One logical request and everything that happened to it."""

    kind: str
    method: str
    path: str
    body: dict[str, Any]
    role: str
    key: str
    marker: str
    grant_id: str
    line_ids: tuple[str, ...] = ()
    status: int | None = None
    answer: Any = None
    replayed: bool = False
    attempts: int = 0
    unresolved: bool = False

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Stats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    retried_503: int = 0
    bad_answers: list[str] = field(default_factory=list)  # 5xx other than 503 + Retry-After
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1

    def bad(self, text: str) -> None:
        with self.lock:
            self.bad_answers.append(text)


class Client(threading.Thread):
    def __init__(
        self,
        number: int,
        workload: Workload,
        deadline: float,
        retry_deadline: float,
    ) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.number = number
        self.w = workload
        self.rng = random.Random(workload.seed * 1000 + number)
        self.deadline = deadline
        self.retry_deadline = retry_deadline
        self.server = number
        self.seq = 0
        self.ops: list[Op] = []
        self.reversible: list[tuple[str, str]] = []  # (transaction_id, grant_id) it posted
        self.error: BaseException | None = None

    # --- building requests -----------------------------------------------------------------

    def _marker(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.w.seed}-{self.number}-{self.seq}"

    def _day(self) -> str:
        return (date(2022, 1, 1) + timedelta(days=self.rng.randrange(365))).isoformat()

    def _grant(self) -> tuple[int, str]:
        i = self.rng.randrange(len(self.w.grants))
        return i + 1, self.w.grants[i]

    def next_op(self) -> Op:
        kinds = list(WEIGHTS)
        kind = self.rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
        if kind == "reversal" and not self.reversible:
            kind = "spend"
        n, grant_id = self._grant()
        key = str(uuid.uuid4())
        body: dict[str, Any]
        if kind == "spend":
            marker = self._marker("b")
            lines = []
            for k in range(self.rng.randint(1, 8)):
                activity = self.rng.choice(["big-a", "big-b", None])
                lines.append(
                    {
                        "line_id": f"{marker}-{k}",
                        "voucher": marker,
                        "booked_on": self._day(),
                        "amount": money(self.rng.randint(1, 500_000)),
                        "cost_object": f"9{n}01",
                        "activity": activity,
                        "account": "4010",
                        "kind": "expense",
                        "text": "belastning",
                    }
                )
            return Op(
                kind,
                "POST",
                "/v1/transactions",
                {"source": SOURCE, "lines": lines},
                "poster",
                key,
                marker,
                grant_id,
                line_ids=tuple(str(x["line_id"]) for x in lines),
            )
        if kind == "receipt":
            marker = self._marker("r")
            body = {
                "amount": money(self.rng.randint(100, 10_000_000)),
                "received_on": self._day(),
                "reference": marker,
            }
            return Op(
                kind,
                "POST",
                f"/v1/grants/{grant_id}/receipts",
                body,
                "poster",
                key,
                marker,
                grant_id,
            )
        if kind == "reversal":
            transaction_id, grant_id = self.reversible.pop(self.rng.randrange(len(self.reversible)))
            marker = self._marker("x")
            body = {"reason": marker, "booked_on": "2022-12-31"}
            return Op(
                kind,
                "POST",
                f"/v1/transactions/{transaction_id}/reversal",
                body,
                "poster",
                key,
                marker,
                grant_id,
            )
        if kind in ("realloc", "realloc-src"):
            marker = self._marker("m")
            if kind == "realloc":
                source, target = self.rng.sample(["big-a", "big-b"], 2)
                amount = kr(1000)
            else:
                source, target, amount = "src", "sink", SRC_MOVE
            body = {
                "from_activity": source,
                "to_activity": target,
                "amount": money(amount),
                "reason": marker,
                "decision": DECISION,
            }
            return Op(
                kind,
                "POST",
                f"/v1/grants/{grant_id}/reallocations",
                body,
                "planner",
                key,
                marker,
                grant_id,
            )
        marker = self._marker("a")
        body = {
            "code": marker,
            "area": "race",
            "name": f"Insats {marker}",
            "amount": money(RACE_AMOUNT),
            "responsible": "Controller",
            "decision": DECISION,
        }
        return Op(
            "allocate",
            "POST",
            f"/v1/grants/{grant_id}/activities",
            body,
            "planner",
            key,
            marker,
            grant_id,
        )

    # --- sending ---------------------------------------------------------------------------

    def send(self, client: httpx.Client, op: Op) -> None:
        """Until an answer that is not a 5xx, with the same key; gives up at retry_deadline."""
        backoff = 0.02
        while True:
            url = self.w.urls()[self.server % len(self.w.urls())]
            op.attempts += 1
            try:
                r = client.request(
                    op.method,
                    url + op.path,
                    json=op.body,
                    headers={
                        "Authorization": f"Bearer {self.w.tokens[op.role]}",
                        "Idempotency-Key": op.key,
                    },
                )
            except httpx.TransportError:
                with self.w.stats.lock:
                    self.w.stats.transport_errors += 1
                r = None
            if r is not None:
                self.w.stats.count(r.status_code)
                if r.status_code < 500:
                    op.status = r.status_code
                    op.answer = r.json() if r.content else None
                    op.replayed = r.headers.get("idempotent-replayed") == "true"
                    return
                if r.status_code == 503 and r.headers.get("retry-after"):
                    with self.w.stats.lock:
                        self.w.stats.retried_503 += 1
                else:
                    self.w.stats.bad(f"{op.kind} {op.path}: {r.status_code} {r.text[:300]}")
            if time.monotonic() > self.retry_deadline:
                op.unresolved = True
                return
            self.server += 1  # try the other server next
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(15.0, connect=2.0)) as client:
                while time.monotonic() < self.deadline and not self.w.stopping.is_set():
                    op = self.next_op()
                    self.ops.append(op)
                    self.send(client, op)
                    if op.kind == "spend" and op.acked:
                        for line in op.answer["lines"]:
                            self.reversible.append((line["transaction_id"], line["grant_id"]))
                    self.server += 1
        except BaseException as e:  # surfaced by Workload.run
            self.error = e


POISON_SOURCE = "poison"


class PoisonedNeighbour(threading.Thread):
    """A poster whose every request is unstorable or beyond the money bound, sent in a loop.

    SIE files with a NUL in the voucher series, and batches of lines at the per-line bound that
    would push an account past ``MAX_ORE``: each must be its own 422 and must never fail, delay
    into a 5xx or otherwise touch another client's request (issue 16 §1).
    """

    def __init__(self, number: int, workload: Workload, deadline: float) -> None:
        super().__init__(name=f"poisoned-{number}", daemon=True)
        self.number = number
        self.w = workload
        self.deadline = deadline
        self.statuses: Counter[int] = Counter()
        self.error: BaseException | None = None

    def _sie(self, n: int, cost_object: str) -> bytes:
        header = '#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#DIM 6 "Projekt"\n'
        voucher = (
            f'#VER "P\x00{self.number}" {n} 20220301 "Gift"\n{{\n'
            f'#TRANS 4010 {{6 "{cost_object}"}} 5.00\n#TRANS 2440 {{}} -5.00\n}}\n'
        )
        return (header + voucher).encode("cp437")

    def run(self) -> None:
        auth = {"Authorization": f"Bearer {self.w.tokens['poster']}"}
        n = 0
        try:
            with httpx.Client(timeout=httpx.Timeout(15.0, connect=2.0)) as client:
                while time.monotonic() < self.deadline and not self.w.stopping.is_set():
                    n += 1
                    urls = self.w.urls()
                    url = urls[n % len(urls)]
                    cost_object = f"9{1 + n % len(self.w.grants)}01"
                    try:
                        if n % 2:
                            files = {"file": (f"gift-{n}.se", self._sie(n, cost_object))}
                            r = client.post(url + "/v1/imports/sie", files=files, headers=auth)
                        else:
                            line = {
                                "booked_on": "2022-03-01",
                                "amount": f"{MAX_KRONOR}.00",
                                "cost_object": cost_object,
                                "kind": "expense",
                            }
                            body = {
                                "source": POISON_SOURCE,
                                "lines": [
                                    {**line, "line_id": f"p-{self.number}-{n}-{k}"}
                                    for k in range(2)
                                ],
                            }
                            r = client.post(url + "/v1/transactions", json=body, headers=auth)
                    except httpx.TransportError:  # a server the chaos killed
                        continue
                    self.statuses[r.status_code] += 1
                    if r.status_code != 422 and not (
                        r.status_code == 503 and r.headers.get("retry-after")
                    ):
                        self.w.stats.bad(f"poisoned neighbour got {r.status_code}: {r.text[:200]}")
        except BaseException as e:  # surfaced by Workload.run
            self.error = e


@dataclass
class Workload:
    urls: Callable[[], Sequence[str]]
    tokens: dict[str, str]
    grants: list[str]
    seed: int = 1
    stats: Stats = field(default_factory=Stats)
    stopping: threading.Event = field(default_factory=threading.Event)
    ops: list[Op] = field(default_factory=list)
    elapsed: float = 0.0
    poison_statuses: Counter[int] = field(default_factory=Counter)

    def run(
        self,
        clients: int,
        duration: float,
        *,
        during: Callable[[float], None] | None = None,
        retry_grace: float = 60.0,
        poisoned: int = 0,
    ) -> None:
        """Run ``clients`` threads for ``duration`` s; ``during(t0)`` runs meanwhile (chaos).

        ``poisoned`` more threads send only unstorable requests (``PoisonedNeighbour``).
        """
        t0 = time.monotonic()
        threads: list[Client | PoisonedNeighbour] = [
            Client(i, self, t0 + duration, t0 + duration + retry_grace) for i in range(clients)
        ]
        neighbours = [PoisonedNeighbour(i, self, t0 + duration) for i in range(poisoned)]
        threads += neighbours
        for t in threads:
            t.start()
        try:
            if during is not None:
                during(t0)
        finally:
            for t in threads:
                t.join(timeout=duration + retry_grace + 60)
            self.elapsed = time.monotonic() - t0
        for t in threads:
            if t.error is not None:
                raise t.error
            assert not t.is_alive(), f"{t.name} did not finish"
            if isinstance(t, Client):
                self.ops.extend(t.ops)
        for n in neighbours:
            self.poison_statuses.update(n.statuses)

    @property
    def acked(self) -> list[Op]:
        return [op for op in self.ops if op.acked]


# --- the audit after -------------------------------------------------------------------------


class ServerErrors(AssertionError):
    """Answers that were a 5xx other than a 503 with Retry-After (everything else held)."""


@dataclass
class AuditFigures:
    events: int
    acked_ops: int
    acked_lines: int
    lost: int
    duplicated: int


def read_events(base_url: str, auditor: str) -> list[dict[str, Any]]:
    """The whole log through GET /v1/events, page by page."""
    found: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(timeout=60) as client:
        while True:
            r = client.get(
                f"{base_url}/v1/events",
                params={"after": after, "limit": 1000},
                headers={"Authorization": f"Bearer {auditor}"},
            )
            assert r.status_code == 200, r.text
            page = r.json()
            found.extend(page["events"])
            if page["next_after"] is None:
                return found
            after = page["next_after"]


def audit(
    workload: Workload,
    base_url: str,
    database_url: str,
    *,
    every_op_resolved: bool = True,
) -> AuditFigures:
    """What the clients were told against what the ledger holds.

    - positions are 1..N with no gap, and the chain verifies (API and CLI); replay is identical;
    - every acknowledged spend line is in the log exactly once, under the transaction id the
      client was given; a batch is there whole or not at all (never part of it);
    - every acknowledged receipt, reversal, reallocation and allocation is there exactly once,
      and nothing refused (4xx) is there at all; with ``every_op_resolved`` nothing is in the
      log that no client was told about;
    - no area holds more than its award, the race area holds exactly its acknowledged
      allocations, ``src`` gave exactly its acknowledged moves and never went below zero;
    - the accounts of every grant sum to zero;
    - no answer was a 5xx other than a 503 with Retry-After.
    """
    unresolved = [op for op in workload.ops if op.unresolved]
    if every_op_resolved:
        assert unresolved == [], f"{len(unresolved)} requests never got an answer"

    log = read_events(base_url, workload.tokens["auditor"])
    assert [e["position"] for e in log] == list(range(1, len(log) + 1)), "positions have gaps"

    lines: dict[tuple[str, str], list[str]] = {}
    by_marker: Counter[str] = Counter()
    for e in log:
        data = e["data"]
        if e["event_type"] == "SpendRecorded":
            lines.setdefault((data["source"], data["line_id"]), []).append(data["transaction_id"])
        elif e["event_type"] == "ReceiptRecorded":
            by_marker[data["reference"]] += 1
        elif e["event_type"] in ("BudgetReallocated", "SpendReversed"):
            by_marker[data["reason"]] += 1
        elif e["event_type"] == "ActivityAllocated":
            by_marker[data["code"]] += 1

    poisoned = [k for k in lines if k[0] == POISON_SOURCE or "\x00" in k[1]]
    assert poisoned == [], f"a poisoned neighbour's lines are in the log: {poisoned[:5]}"
    duplicated = [k for k, ids in lines.items() if len(ids) != 1]
    assert duplicated == [], f"lines recorded more than once: {duplicated[:5]}"
    lost = 0
    acked_lines = 0
    told: set[tuple[str, str]] = set()
    for op in workload.ops:
        if op.kind == "spend":
            present = [lid for lid in op.line_ids if (SOURCE, lid) in lines]
            assert len(present) in (0, len(op.line_ids)), f"partial batch {op.marker}: {present}"
            if op.acked:
                for answer in op.answer["lines"]:
                    acked_lines += 1
                    told.add((SOURCE, answer["line_id"]))
                    ids = lines.get((SOURCE, answer["line_id"]))
                    if ids != [answer["transaction_id"]]:
                        lost += 1
            elif op.status is not None:
                assert present == [], f"refused batch {op.marker} ({op.status}) is in the log"
        else:
            expected = 1 if op.acked else 0
            if op.unresolved:
                assert by_marker[op.marker] in (0, 1), op.marker
            elif by_marker[op.marker] != expected:
                if op.acked:
                    lost += 1
                raise AssertionError(
                    f"{op.kind} {op.marker} ({op.status}) is in the log "
                    f"{by_marker[op.marker]} times, expected {expected}"
                )
    assert lost == 0, f"{lost} acknowledged entries are missing"
    if every_op_resolved:
        phantom = set(lines) - told
        assert phantom == set(), f"lines no client was told about: {sorted(phantom)[:5]}"

    _check_budgets(workload, base_url)
    _check_books(database_url)
    bad = workload.stats.bad_answers
    if bad:  # last, so that a known server error does not hide what the ledger holds
        raise ServerErrors(f"{len(bad)} answers were 5xx other than 503 + Retry-After: {bad[:5]}")
    return AuditFigures(len(log), len(workload.acked), acked_lines, lost, len(duplicated))


def _check_budgets(workload: Workload, base_url: str) -> None:
    with httpx.Client(timeout=30) as client:
        for grant_id in workload.grants:
            r = client.get(
                f"{base_url}/v1/balances",
                params={"grant_id": grant_id},
                headers={"Authorization": f"Bearer {workload.tokens['reader']}"},
            )
            assert r.status_code == 200, r.text
            areas = {a["code"]: a for a in r.json()["areas"]}
            for a in areas.values():
                assert kr(a["allocated"]) <= kr(a["awarded"]), f"over-allocated: {a}"
                # Rule 1 holds: allocations never pass the award.  The unallocated money may
                # still go below zero, but only through the area's unclassified spend (rule 4:
                # spend is a fact, never refused for budget), which random load can drive there.
                assert kr(a["unallocated"]) + kr(a["unclassified_spent"]) >= 0, a
            allocations = sum(
                1 for op in workload.acked if op.kind == "allocate" and op.grant_id == grant_id
            )
            assert allocations <= RACE_SLOTS
            assert kr(areas["race"]["allocated"]) == allocations * RACE_AMOUNT
            moves = sum(
                1 for op in workload.acked if op.kind == "realloc-src" and op.grant_id == grant_id
            )
            assert moves <= SRC_BUDGET // SRC_MOVE
            activities = {x["code"]: x for x in areas["drift"]["activities"]}
            assert kr(activities["src"]["allocated"]) == SRC_BUDGET - moves * SRC_MOVE >= 0
            assert kr(activities["sink"]["allocated"]) == 100 + moves * SRC_MOVE


def _check_books(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        sums = account_sums(engine)
        assert sums, "no accounts"
        assert all(v == 0 for v in sums.values()), sums
        with engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    finally:
        engine.dispose()
    verify = cli("verify", database_url=database_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"{n} events" in verify.stdout
    replay = cli("replay", database_url=database_url)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "identical" in replay.stdout


def resend_acknowledged(workload: Workload, base_url: str) -> int:
    """Send every acknowledged request again with its key: the first answer, nothing new."""
    sent = 0
    with httpx.Client(timeout=30) as client:
        for op in workload.acked:
            r = client.request(
                op.method,
                base_url + op.path,
                json=op.body,
                headers={
                    "Authorization": f"Bearer {workload.tokens[op.role]}",
                    "Idempotency-Key": op.key,
                },
            )
            sent += 1
            assert r.status_code == op.status, (op.kind, op.marker, r.status_code, r.text)
            assert r.headers.get("idempotent-replayed") == "true", (op.kind, op.marker)
            assert r.json() == op.answer, (op.kind, op.marker)
    return sent


def verify_over_api(base_url: str, auditor: str) -> dict[str, Any]:
    with httpx.Client(timeout=60) as client:
        r = client.get(
            f"{base_url}/v1/audit/verify", headers={"Authorization": f"Bearer {auditor}"}
        )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    assert answer["ok"], answer
    return answer
