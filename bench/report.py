#!/usr/bin/python3
"""Turns the raw figures of bench/run.sh (tab-separated files in DIR) into markdown tables on stdout, and
into the .dat files bench/plot.gp draws. Medians over rounds; ratios are the proxy's figure over the other's."""
import collections
import os
import statistics
import sys

out = sys.argv[1]
MAIN_PATHS = ["direct", "relay", "qemu-nbd", "nbdkit-nbd", "nbdkit-retry", "proxy"]
TLS_PATHS = ["direct-tls", "nbdkit-nbd-tls", "proxy-tls"]


def load(name):
    """(workload -> path -> [values]), units, workloads in first-seen order; None if the section did not run."""
    path = os.path.join(out, name)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    values = collections.defaultdict(lambda: collections.defaultdict(list))
    units, order = {}, []
    for line in open(path, encoding="utf-8"):
        _round, p, workload, unit, value = line.rstrip("\n").split("\t")
        values[workload][p].append(float(value))
        units[workload] = unit
        if workload not in order:
            order.append(workload)
    return values, units, order


def lower_is_better(unit):
    return unit in ("µs", "ms", "CPU s/GiB")


def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def verdict(ratio, unit):
    """How the proxy compares, in words: within 5% counts as equal (issue 5)."""
    better = ratio if not lower_is_better(unit) else 1 / ratio
    if better >= 0.95:
        return "equal" if better < 1.05 else f"{better:.2f}× better"
    return f"{(1 - better) * 100:.0f}% worse"


def table(data, paths, title, proxy="proxy", against=("relay", "direct")):
    """The proxy's ratio to each path of AGAINST, and in words to the first one."""
    values, units, order = data
    paths = [p for p in paths if any(values[w].get(p) for w in order)]
    print(f"### {title}\n")
    head = (["workload", "unit"] + paths + [f"{proxy}/{a}" for a in against]
            + [f"proxy vs {against[0]}", "proxy min–max"])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for w in order:
        unit = units[w]
        med = {p: statistics.median(values[w][p]) for p in paths if values[w].get(p)}
        cells = [w, unit] + [fmt(med[p]) if p in med else "" for p in paths]
        if proxy in med:
            cells += [f"{med[proxy] / med[a]:.2f}" if a in med else "" for a in against]
            cells += [verdict(med[proxy] / med[against[0]], unit) if against[0] in med else "",
                      f"{fmt(min(values[w][proxy]))}–{fmt(max(values[w][proxy]))}"]
        else:
            cells += [""] * (len(against) + 2)
        print("| " + " | ".join(cells) + " |")
    rounds = max(len(v) for w in order for v in values[w].values())
    lower = "µs and CPU s/GiB" if any(u == "CPU s/GiB" for u in units.values()) else "µs"
    print(f"\nMedians of {rounds} interleaved rounds. For {lower}, lower is better (a ratio above 1 is worse).\n")


def write_main_dat(data):
    """Each path's figure relative to direct, latency inverted so that higher is better everywhere."""
    values, units, order = data
    with open(os.path.join(out, "main-ratios.dat"), "w", encoding="utf-8") as f:
        f.write("workload " + " ".join(MAIN_PATHS) + "\n")
        for w in order:
            d = statistics.median(values[w]["direct"])
            row = []
            for p in MAIN_PATHS:
                m = statistics.median(values[w][p])
                row.append(f"{(d / m if lower_is_better(units[w]) else m / d):.3f}")
            label = w.replace("fio ", "").replace(" latency", " lat.").replace("nbdcopy ", "copy ")
            f.write(f'"{label}" ' + " ".join(row) + "\n")


def write_scaling_dat(data):
    values, _units, _order = data
    paths = ["direct", "relay", "proxy"]
    med = lambda w, p: statistics.median(values[w][p])
    with open(os.path.join(out, "scaling-qd.dat"), "w", encoding="utf-8") as f:
        f.write("qd " + " ".join(paths) + "\n")
        for qd in (1, 4, 16, 64, 256):
            w = f"4K randread QD{qd}"
            if w in values:
                f.write(f"{qd} " + " ".join(f"{med(w, p):.0f}" for p in paths) + "\n")
    with open(os.path.join(out, "scaling-bs.dat"), "w", encoding="utf-8") as f:
        f.write("label kib " + " ".join(paths) + "\n")
        for label, kib in (("4K", 4), ("64K", 64), ("1M", 1024), ("4M", 4096), ("32M", 32768)):
            w = f"seq read {label} QD16"
            if w in values:
                f.write(f"{label} {kib} " + " ".join(f"{med(w, p):.1f}" for p in paths) + "\n")


def jstat_peaks(path):
    """Peak heap used and committed in MiB from `jstat -gc` lines (KiB), or None."""
    if not os.path.exists(path):
        return None
    used, committed, cols = 0.0, 0.0, None
    for line in open(path, encoding="utf-8"):
        f = line.split()
        if f and f[0] == "S0C":
            cols = f
            continue
        if not cols or len(f) != len(cols):
            continue
        try:
            # "-" marks a column the collector does not have (the serial one has no concurrent cycles).
            r = dict(zip(cols, (0.0 if v == "-" else float(v) for v in f)))
        except ValueError:
            continue
        used = max(used, (r["S0U"] + r["S1U"] + r["EU"] + r["OU"]) / 1024)
        committed = max(committed, (r["S0C"] + r["S1C"] + r["EC"] + r["OC"]) / 1024)
    return (used, committed) if cols else None


def simple_rows(name, head):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for line in open(path, encoding="utf-8"):
        print("| " + " | ".join(line.rstrip("\n").split("\t")) + " |")
    print()


info = os.path.join(out, "run-info.txt")
if os.path.exists(info):
    print("```\n" + open(info, encoding="utf-8").read().rstrip() + "\n```\n")
main = load("main.tsv")
if main:
    table(main, MAIN_PATHS, "Main table")
    write_main_dat(main)
scaling = load("scaling.tsv")
if scaling:
    table(scaling, ["direct", "relay", "proxy", "proxy-cache"], "Scaling")
    write_scaling_dat(scaling)
if os.path.exists(os.path.join(out, "memory-load.tsv")):
    print("### The proxy's resident memory during the main section (MiB)\n")
    simple_rows("memory-load.tsv", ["when", "VmRSS", "VmHWM"])
if os.path.exists(os.path.join(out, "memory-slow.tsv")):
    print("### A client as fast as it can, a 100 MiB/s upstream (proxy, MiB)\n")
    simple_rows("memory-slow.tsv", ["when", "VmRSS", "VmHWM"])
    for name in sorted(os.listdir(out)):
        if name.startswith("memory-slow-rss-") and name.endswith(".tsv"):
            v = name[len("memory-slow-rss-"):-len(".tsv")]
            series = os.path.join(out, name)
            rss = [float(l.split("\t")[1]) for l in open(series, encoding="utf-8") if "\t" in l]
            heap = jstat_peaks(os.path.join(out, f"memory-slow-jstat-{v}.txt"))
            print(f"{v}: peak sampled VmRSS (every 0.25 s) {max(rss):.0f} MiB" +
                  (f"; Java heap (jstat, every 1 s): at most {heap[0]:.0f} MiB used, {heap[1]:.0f} MiB committed"
                   if heap else "") + ".\n")
tls = load("tls.tsv")
if tls:
    table(tls, TLS_PATHS, "TLS on both sides: one connection, against nbdkit's nbd plugin",
          proxy="proxy-tls", against=("nbdkit-nbd-tls", "direct-tls"))
startup = load("startup.tsv")
if startup:
    values, _u, _o = startup
    print("### Start-up: process start to the port accepting (ms, 5 starts)\n")
    print("| path | median | min | max |\n|---|---|---|---|")
    for p, v in values["start-up"].items():
        print(f"| {p} | {statistics.median(v):.0f} | {min(v):.0f} | {max(v):.0f} |")
    print()
