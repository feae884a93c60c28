"""Place lookup: start-up time, memory and resolution speed of the gazetteer, and `kb check` start-up.

Each measurement runs in a fresh Python process (memory and start-up are per process). `--tree DIR` measures
another checkout of the project (e.g. `git archive main | tar -x -C /tmp/old`) with the same interpreter, to
compare before and after a change. pydantic is imported and one model built before measuring, as the
running app has (settings, knowledge). Run:  .venv/bin/python -m bench.places [--tree /tmp/old]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "xã Vĩnh Thủy",
    "xa vinh thuy quang tri",
    "vinh thuyy",
    "Bình Giang, Ninh Bình",
    "binh giang",
    "phường Hàng Trống, Hà Nội",
    "hang trong ha noi",
    "xã Vĩnh Thái, huyện Vĩnh Linh",
    "Quảng Ngãi",
    "phuong ba dinh",
    "xa dien ban, quang nam",
    "dac khu phu quoc",
    "tp hcm",
    "xã không có thật",
]
_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, os.getcwd())
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
import yaml
from pydantic import BaseModel
class _AppLoaded(BaseModel):  # the app has built its settings and knowledge models before the gazetteer
    x: int
with open("knowledge/province_aliases.yaml", encoding="utf-8") as fh:
    aliases = {a["old"]: a["new"] for a in yaml.safe_load(fh)["aliases"]}
before, start = rss(), time.perf_counter()
from bot.places import Gazetteer
g = Gazetteer(aliases)
g.all_places(); g.province("Quảng Trị"); g.place_by_code(19405)
ready, after = time.perf_counter() - start, rss()
queries = json.loads(sys.argv[1])
for q in queries:
    g.resolve_text(q)  # warm the caches a running server has warm
samples = []
for _ in range(int(sys.argv[2])):
    for q in queries:
        t = time.perf_counter(); g.resolve_text(q); samples.append(time.perf_counter() - t)
print(json.dumps({"ready_s": ready, "rss_growth": after - before, "rss": after, "samples": samples}))
"""


def measure_places(tree: Path, repeat: int) -> dict[str, float]:
    """Start-up, memory and lookup percentiles of the gazetteer in `tree`, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(QUERIES), str(repeat)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    ordered = sorted(data["samples"])
    return {
        "ready_ms": data["ready_s"] * 1e3,
        "rss_growth_mb": data["rss_growth"] / 2**20,
        "rss_mb": data["rss"] / 2**20,
        "p50_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[int(0.99 * (len(ordered) - 1))] * 1e6,
    }


def measure_kb_check(tree: Path, runs: int) -> float:
    """Median wall time (s) of `khuyencong kb check` on the tree's own knowledge, as a new process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "kb", "check", "--knowledge", str(tree / "knowledge")],
            cwd=tree,
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print one markdown row per measurement of the tree."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = [measure_places(args.tree, args.repeat) for _ in range(args.runs)]
    row = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    kb = measure_kb_check(args.tree, args.runs)
    print(
        f"| {args.tree} | {row['ready_ms']:.0f} ms | {row['rss_growth_mb']:.1f} MB | {row['rss_mb']:.1f} MB | "
        f"{row['p50_us']:.0f} µs | {row['p99_us']:.0f} µs | {kb:.2f} s |"
    )


if __name__ == "__main__":
    main()
