"""Medians of several bench runs: ``python -m bench.median a.json b.json c.json``.

On a shared machine one run's figures move with the neighbours' load; the median of a few runs
(and the per-run ratios, which are measured side by side) are what the README reports.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import orjson


def medians(paths: list[Path]) -> dict[str, tuple[float, float, float]]:
    runs = [orjson.loads(p.read_bytes()) for p in paths]
    keys = sorted(set().union(*runs))
    out = {}
    for key in keys:
        values = [float(r[key]) for r in runs if isinstance(r.get(key), int | float)]
        if values:
            out[key] = (statistics.median(values), min(values), max(values))
    return out


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def main(args: list[str]) -> None:
    paths = [Path(a) for a in args]
    print(f"| figure | median of {len(paths)} | min | max |")
    print("|---|---:|---:|---:|")
    for key, (med, lo, hi) in medians(paths).items():
        print(f"| `{key}` | {_fmt(med)} | {_fmt(lo)} | {_fmt(hi)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
