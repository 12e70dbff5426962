"""``make bench``: every figure of DESIGN §5, side by side with its ceiling and its peer.

    BENCH_EVENTS=20000 make bench          # quick (under a minute)
    make bench                             # 1 000 000 events

Makes its own database on ``GRANTLEDGER_BENCH_POSTGRES_URL`` (default the local server), prints a
table and writes ``bench/results.json`` (or ``BENCH_RESULTS``).  See bench/README.md.
"""

from __future__ import annotations

import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from contextlib import closing
from datetime import date, timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench import peer
from bench.config import BATCH, PLAN, Config
from bench.database import scratch_database, server_version
from bench.ingest import IngestStats, create_raw_tables, ingest_until
from bench.load import LoadResult, get_latencies, percentile, post_load
from bench.peer import Peer
from bench.raw_single import raw_single
from bench.server import Server
from bench.workload import Workload, batch_json, line_json
from ledger import migrate
from ledger.auth.tokens import TokenRegistry
from ledger.db import create_engine
from ledger.formats import plan as plans
from ledger.replay import replay
from ledger.service import Actor, LedgerService
from ledger.store import EventStore

REQUIRED_KEYS = (
    "raw_rows_per_s",
    "ingest_events_per_s",
    "ingest_ratio_to_raw",
    "peer_batch_events_per_s",
    "peer_single_events_per_s",
    "http_batch_lines_per_s",
    "http_single_per_s",
    "raw_single_per_s",
    "http_single_ratio_to_raw_single",
    "balance_p50_ms",
    "balance_p99_ms",
    "balance_p99_ms_small",
    "balance_p99_ms_large",
    "asof_p99_ms",
    "replay_events_per_s",
    "verify_events_per_s",
    "server_rss_mb",
)

# DESIGN §5: (key, comparison, target)
TARGETS: dict[str, tuple[str, float]] = {
    "ingest_ratio_to_raw": (">=", 0.5),
    "ingest_events_per_s": (">=", 50_000),
    "http_batch_lines_per_s": (">=", 30_000),
    "http_single_per_s": (">=", 2_000),
    "http_single_ratio_to_raw_single": (">=", 0.15),  # issue 14
    "balance_p99_ms_large": ("<=", 5.0),
    "balance_p99_ratio_large_to_small": ("<=", 1.5),  # "no slower than at 10 000", noise allowed
    "asof_p99_ms": ("<=", 50.0),
    "replay_events_per_s": (">=", 150_000),
    "verify_events_per_s": (">=", 300_000),
    "server_rss_mb": ("<=", 200.0),
}

BALANCES = "/v1/balances?grant_id={grant}"
console = Console(width=None if sys.stdout.isatty() else 120)


def log(msg: str) -> None:
    console.log(msg)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _check(result: LoadResult, what: str) -> None:
    if result.errors:
        raise RuntimeError(
            f"{what}: {len(result.errors)} failed request(s), first: {result.errors[0]}"
        )
    if not result.requests:
        raise RuntimeError(f"{what}: no request completed")


def _latency(result: LoadResult, what: str) -> tuple[float, float]:
    _check(result, what)
    return ms(percentile(result.latencies, 50)), ms(percentile(result.latencies, 99))


def _peer_payloads(n: int) -> list[dict[str, Any]]:
    wl = Workload("bench-peer", seed=7)
    return [{"grant_id": wl.grant_id, **line_json(wl.line())} for _ in range(n)]


def _bodies(workload: Workload, lines_per_body: int, count: int) -> list[bytes]:
    return [
        orjson.dumps(batch_json(workload.source, workload.batch(lines_per_body)))
        for _ in range(count)
    ]


def _progress(total: int) -> Callable[[int], None]:
    step = max(total // 10, 50_000)
    state = {"next": step, "t0": time.perf_counter()}

    def report(head: int) -> None:
        if head >= state["next"]:
            log(f"  … {head:,} events ({time.perf_counter() - state['t0']:.0f} s)")
            state["next"] = (head // step + 1) * step

    return report


def run(cfg: Config) -> dict[str, float]:
    t_run = time.perf_counter()
    peer_version = peer.ensure_installed()
    out: dict[str, float] = {"load_1m_start": round(os.getloadavg()[0], 2)}
    log(
        f"grantledger bench: {cfg.events:,} events, PostgreSQL {server_version(cfg.admin_url)}, "
        f"{os.cpu_count()} CPUs, eventsourcing {peer_version}" + (" [smoke]" if cfg.smoke else "")
    )
    with scratch_database(cfg.admin_url, "gl_bench", keep=cfg.keep_database) as url:
        if cfg.keep_database:
            log(f"database kept: {url}")
        engine = create_engine(url)
        try:
            out.update(_run_in(cfg, url, engine))
        finally:
            engine.dispose()
    out["cpu_count"] = float(os.cpu_count() or 0)
    out["load_1m_end"] = round(os.getloadavg()[0], 2)
    out["elapsed_s"] = round(time.perf_counter() - t_run, 1)
    return out


def _run_in(cfg: Config, url: str, engine: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    migrate.upgrade(engine)
    service = LedgerService(engine)
    service.execute_all(plans.commands(plans.read(PLAN)), Actor("bench-plan", "planner"))
    raw = create_raw_tables(engine)
    tokens = TokenRegistry(engine)
    poster = tokens.create("bench-poster", "poster")
    reader = tokens.create("bench-reader", "reader")
    actor = Actor("bench-erp", "poster", source_system="bench")
    workload = Workload("bench-erp")
    grant = workload.grant_id
    deadline = time.monotonic() + cfg.max_seconds
    stats = IngestStats()

    with (
        Server(url, cfg.server_workers) as server,
        scratch_database(cfg.admin_url, "gl_bench_peer") as peer_url,
        closing(Peer(peer_url, _peer_payloads(1000))) as peer,
    ):
        batches = math.ceil(cfg.events / BATCH)
        interleave = {
            "peer": peer,
            "peer_stride": max(1, math.ceil(batches / max(1, cfg.peer_batch_events // BATCH))),
            "peer_max_events": cfg.peer_batch_events,
            "warmup_batches": cfg.warmup_batches,
        }
        server.wait_ready()
        out["server_rss_mb_idle"] = round(server.rss_kb() / 1024, 1)

        # --- in-process ingest (and the raw ceiling, batch by batch) up to the small size ------
        with engine.connect() as conn:
            head = EventStore().head_position(conn)
        log(f"ingest + raw + peer: batches of {BATCH} up to {cfg.small_events:,} events")
        head = ingest_until(
            service, raw, workload, actor, head=head, target=cfg.small_events,
            deadline=deadline, stats=stats, **interleave,
        )  # fmt: skip
        out["events_small"] = float(head)

        log(f"balances at {head:,} events: one client, sequential GETs")
        balance = BALANCES.format(grant=grant)
        small = get_latencies(
            server.base_url, reader, lambda _i: balance,
            requests=cfg.latency_requests, seconds=cfg.latency_seconds,
        )  # fmt: skip
        out["balance_p50_ms_small"], out["balance_p99_ms_small"] = _latency(small, "balance small")
        out["server_rss_mb_small"] = round(server.rss_kb() / 1024, 1)

        # --- HTTP batch: 500 lines per request, 4 clients --------------------------------------
        n_bodies = max(cfg.http_batch_clients, cfg.http_batch_max_lines // BATCH)
        bodies = _bodies(Workload("bench-http-batch", seed=11), BATCH, n_bodies)
        log(
            f"HTTP batch: {cfg.http_batch_clients} clients × POST /v1/transactions of {BATCH} "
            f"lines (≤ {n_bodies} requests, ≤ {cfg.http_seconds:g} s)"
        )
        cpu0 = server.cpu_seconds()
        hb = post_load(
            server.base_url, poster, "/v1/transactions", bodies, BATCH,
            clients=cfg.http_batch_clients, seconds=cfg.http_seconds,
            warmup=_bodies(Workload("bench-http-warm", seed=17), 1, cfg.http_batch_clients),
        )  # fmt: skip
        _check(hb, "HTTP batch")
        out["http_batch_lines_per_s"] = round(hb.per_s, 1)
        out["http_batch_lines"] = float(hb.items)
        out["http_batch_p50_ms"] = ms(percentile(hb.latencies, 50))
        out["http_batch_p99_ms"] = ms(percentile(hb.latencies, 99))
        out["http_batch_server_cpu_share"] = _share(server.cpu_seconds() - cpu0, hb.elapsed)
        out["http_batch_client_cpu_share"] = _share(hb.client_cpu, hb.elapsed)
        del bodies

        # --- HTTP single: one line per request, 16 clients, 2 workers --------------------------
        # (the peer's one-event saves just before, for as long: the nearest comparison we have)
        log(f"peer: eventsourcing 1 event per save (≤ {cfg.peer_single_seconds:g} s)")
        peer.save_singles(cfg.peer_single_events, cfg.peer_single_seconds)
        wl = Workload("bench-http-single", seed=13)
        singles = _bodies(wl, 1, cfg.http_single_max_requests)
        log(
            f"HTTP single: {cfg.http_single_clients} clients × POST /v1/transactions of 1 line, "
            f"{cfg.server_workers} workers (≤ {len(singles)} requests, ≤ {cfg.http_seconds:g} s)"
        )
        cpu0 = server.cpu_seconds()
        hs = post_load(
            server.base_url, poster, "/v1/transactions", singles, 1,
            clients=cfg.http_single_clients, seconds=cfg.http_seconds,
            warmup=_bodies(Workload("bench-http-warm-1", seed=19), 1, cfg.http_single_clients),
        )  # fmt: skip
        _check(hs, "HTTP single")
        out["http_single_per_s"] = round(hs.per_s, 1)
        out["http_single_requests"] = float(hs.requests)
        out["http_single_p50_ms"] = ms(percentile(hs.latencies, 50))
        out["http_single_p99_ms"] = ms(percentile(hs.latencies, 99))
        out["http_single_server_cpu_share"] = _share(server.cpu_seconds() - cpu0, hs.elapsed)
        out["http_single_client_cpu_share"] = _share(hs.client_cpu, hs.elapsed)
        del singles

        # --- its ceiling: the same event rows, one row per commit, as many connections ----------
        log(
            f"raw single: {cfg.http_single_clients} connections × INSERT of 1 stored event row "
            f"+ COMMIT (≤ {len(hs.latencies)} rows, ≤ {cfg.http_seconds:g} s)"
        )
        rs = raw_single(
            url, engine, clients=cfg.http_single_clients,
            rows=max(hs.requests, cfg.http_single_clients), seconds=cfg.http_seconds,
        )  # fmt: skip
        out["raw_single_per_s"] = round(rs.per_s, 1)
        out["raw_single_p99_ms"] = ms(percentile(rs.latencies, 99))

        # --- the rest of the ingest, up to BENCH_EVENTS ----------------------------------------
        with engine.connect() as conn:
            head = EventStore().head_position(conn)
        log(f"ingest + raw + peer: from {head:,} up to {cfg.events:,} events")
        head = ingest_until(
            service, raw, workload, actor, head=head, target=cfg.events, deadline=deadline,
            stats=stats, progress=_progress(cfg.events), **interleave,
        )  # fmt: skip
        out["events_total"] = float(head)
        if not peer.batch_events:  # too few in-process batches to interleave with
            peer.save_batches(BATCH)
        out["peer_batch_events_per_s"] = round(peer.batch_per_s, 1)
        out["peer_single_events_per_s"] = round(peer.single_per_s, 1)
        out["peer_batch_events"] = float(peer.batch_events)
        out["peer_single_events"] = float(peer.single_events)
        out["ingest_events_per_s"] = round(stats.ingest_per_s, 1)
        out["raw_rows_per_s"] = round(stats.raw_per_s, 1)
        out["raw_insert_rows_per_s"] = round(stats.insert_per_s, 1)
        out["raw_copy_rows_per_s"] = round(stats.copy_per_s, 1)
        out["ingest_ratio_to_raw"] = round(stats.paired_ratio(stats.ceiling), 4)
        out["ingest_ratio_to_raw_insert"] = round(stats.paired_ratio("insert"), 4)
        out["ingest_ratio_to_raw_copy"] = round(stats.paired_ratio("copy"), 4)
        out["ingest_ratio_to_peer_batch"] = round(stats.paired_ratio("peer"), 4)
        out["ingest_batch_p50_ms"] = stats.p50_ms("ingest")
        out["raw_insert_batch_p50_ms"] = stats.p50_ms("insert")
        out["raw_copy_batch_p50_ms"] = stats.p50_ms("copy")
        out["peer_batch_p50_ms"] = stats.p50_ms("peer")
        out["ingest_events_timed"] = float(sum(r.events for r in stats.rounds))
        # The rate at the start and over the last tenth of the batches: is the write path flat?
        out["ingest_events_per_s_first"] = round(stats.ingest_per_s_between(0, cfg.small_events), 1)
        out["ingest_events_per_s_last"] = round(stats.ingest_per_s_last(), 1)

        log(f"balances at {head:,} events: today, then as of random dates of 2022")
        large = get_latencies(
            server.base_url, reader, lambda _i: balance,
            requests=cfg.latency_requests, seconds=cfg.latency_seconds,
        )  # fmt: skip
        out["balance_p50_ms_large"], out["balance_p99_ms_large"] = _latency(large, "balance large")
        out["balance_p50_ms"] = out["balance_p50_ms_large"]
        out["balance_p99_ms"] = out["balance_p99_ms_large"]
        rng = random.Random(5)
        dates = [date(2022, 1, 1) + timedelta(days=rng.randrange(365)) for _ in range(4096)]
        asof = get_latencies(
            server.base_url, reader, lambda i: f"{balance}&as_of={dates[i % len(dates)]}",
            requests=cfg.asof_requests, seconds=cfg.latency_seconds, warmup=3,
        )  # fmt: skip
        out["asof_p50_ms"], out["asof_p99_ms"] = _latency(asof, "balance as of")
        out["asof_requests"] = float(asof.requests)
        tree_mb, pss_mb, one_mb = server.peak_mb()
        out["server_rss_mb"] = round(tree_mb, 1)
        out["server_pss_mb"] = round(pss_mb, 1)
        out["server_rss_mb_process_max"] = round(one_mb, 1)
        out["server_processes"] = float(len(server.pids()))

    # --- auditors' replay and chain verification, in process -----------------------------------
    log(f"replay: rebuild every projection from {head:,} events and diff")
    t0 = time.perf_counter()
    report = replay(engine)
    elapsed = time.perf_counter() - t0
    if not report.identical:
        raise RuntimeError(f"replay is not identical: {report.differences}")
    out["replay_events_per_s"] = round(report.events / elapsed, 1)
    out["replay_identical"] = 1.0

    log("verify: walk the hash chain")
    t0 = time.perf_counter()
    verified = EventStore().verify(engine)
    elapsed = time.perf_counter() - t0
    if not verified.ok:
        raise RuntimeError(f"chain broken: {verified.reason}")
    out["verify_events_per_s"] = round(verified.checked / elapsed, 1)
    out["verify_ok"] = 1.0

    out["events_target"] = float(cfg.events)
    out["balance_p99_ratio_large_to_small"] = round(
        out["balance_p99_ms_large"] / out["balance_p99_ms_small"], 3
    )
    out["http_single_ratio_to_peer_single"] = round(
        out["http_single_per_s"] / out["peer_single_events_per_s"], 3
    )
    out["http_single_ratio_to_raw_single"] = round(
        out["http_single_per_s"] / out["raw_single_per_s"], 3
    )
    return out


def _share(cpu_seconds: float, wall: float) -> float:
    """CPU used over the machine's capacity in that time (1.0 = every core busy)."""
    return round(cpu_seconds / (wall * (os.cpu_count() or 1)), 3) if wall > 0 else 0.0


def _fmt(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if v else "0"


def _status(key: str, results: dict[str, float]) -> tuple[str, str]:
    if key not in TARGETS:
        return "", ""
    op, target = TARGETS[key]
    value = results[key]
    ok = value >= target if op == ">=" else value <= target
    return f"{op} {_fmt(target)}", "[green]met[/]" if ok else "[red]missed[/]"


ROWS = (
    ("ceiling and peers", ""),
    ("raw_rows_per_s", "ceiling: the faster of the two below"),
    ("raw_insert_rows_per_s", "same rows, SQLAlchemy Core INSERT, 500/commit"),
    ("raw_copy_rows_per_s", "same rows, psycopg COPY, 500/commit"),
    ("peer_batch_events_per_s", "eventsourcing 9.5.6, 100 events/save"),
    ("peer_single_events_per_s", "eventsourcing 9.5.6, 1 event/save"),
    ("write path", ""),
    ("ingest_events_per_s", "LedgerService in process, 500 lines/batch"),
    ("ingest_events_per_s_first", "… while the store is below the small size"),
    ("ingest_events_per_s_last", "… over the last tenth of the batches"),
    ("ingest_ratio_to_raw", "median of per-batch time(raw) / time(ingest)"),
    ("ingest_ratio_to_raw_insert", "… to raw Core INSERT"),
    ("ingest_ratio_to_raw_copy", "… to raw COPY"),
    ("ingest_ratio_to_peer_batch", "… to the peer, 100 per save"),
    ("http_batch_lines_per_s", "POST 500 lines, 4 clients"),
    ("http_single_per_s", "POST 1 line, 16 clients, 2 workers"),
    ("http_single_ratio_to_peer_single", "single posts / peer 1-per-save"),
    ("raw_single_per_s", "same event rows, 1 INSERT + COMMIT each, 16 connections"),
    ("http_single_ratio_to_raw_single", "single posts / raw single rows"),
    ("http_single_p99_ms", "single post latency p99"),
    ("reads", ""),
    ("balance_p50_ms_small", "GET /v1/balances at the small size"),
    ("balance_p99_ms_small", ""),
    ("balance_p50_ms_large", "GET /v1/balances at BENCH_EVENTS"),
    ("balance_p99_ms_large", ""),
    ("balance_p99_ratio_large_to_small", "flat in the number of events"),
    ("asof_p50_ms", "balances as_of a date, at BENCH_EVENTS"),
    ("asof_p99_ms", ""),
    ("audit", ""),
    ("replay_events_per_s", "ledger.replay.replay (rebuild + diff)"),
    ("verify_events_per_s", "EventStore.verify (whole chain)"),
    ("memory", ""),
    ("server_rss_mb_small", "API server tree RSS after the small reads"),
    ("server_rss_mb", "API server tree peak RSS (supervisor + workers)"),
    ("server_pss_mb", "the same as PSS (shared pages counted once)"),
    ("server_rss_mb_process_max", "largest single server process's peak"),
)


def print_table(results: dict[str, float], cfg: Config) -> None:
    table = Table(
        title=f"grantledger bench — {int(results.get('events_total', 0)):,} events, "
        f"{platform.machine()} × {os.cpu_count()} CPUs (shared, load "
        f"{results.get('load_1m_start')} → {results.get('load_1m_end')}), "
        f"{results.get('elapsed_s')} s",
        show_lines=False,
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target (§5)", justify="right")
    table.add_column("")
    table.add_column("what", style="dim")
    for key, what in ROWS:
        if key not in results:
            if not what:
                table.add_section()
                table.add_row(f"[bold]{key}[/]", "", "", "", "")
            continue
        target, status = _status(key, results)
        table.add_row(key, _fmt(results[key]), target, status, what)
    console.print(table)
    console.print(f"results: {cfg.results}")


def main() -> None:
    cfg = Config.from_env()
    results = run(cfg)
    for key in REQUIRED_KEYS:
        value = results.get(key)
        if not isinstance(value, float | int) or not math.isfinite(value):
            raise RuntimeError(f"figure {key} is missing or not a number: {value!r}")
    cfg.results.parent.mkdir(parents=True, exist_ok=True)
    cfg.results.write_bytes(
        orjson.dumps(dict(sorted(results.items())), option=orjson.OPT_INDENT_2) + b"\n"
    )
    print_table(results, cfg)


if __name__ == "__main__":
    sys.exit(main())
