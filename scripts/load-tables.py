#!/usr/bin/env python3
"""Markdown tables for docs/reliability.md from `agent bench load --json` output.

Usage: scripts/load-tables.py load.json > tables.md
"""
import json
import sys


def errors(e):
    return ", ".join(f"{k} {v}" for k, v in sorted(e.items())) or "none"


def main(path):
    d = json.load(open(path))
    out = ["### Simulated patients (real model, demo EHR, HTTP + SSE; the same conversations at every level)", "",
           "| EHR round trip added | sessions | turns | seconds | turns/s | p50 ms | p95 ms | p99 ms | first event p50 / p99 ms | CPU s: machine / demo EHR | errors |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for l in d["load"]:
        lat, fe, cpu = l["latency"], l["first_event"], l.get("cpu", {})
        out.append(f"| {l.get('ehr_rtt_ms', 0)} ms | {l['sessions']} | {l['turns']} | {l['seconds']:.1f} | {l['turns_per_sec']:.1f} | {lat['p50_ms']:.0f} | "
                   f"{lat['p95_ms']:.0f} | {lat['p99_ms']:.0f} | {fe['p50_ms']:.1f} / {fe['p99_ms']:.1f} | "
                   f"{cpu.get('machine_seconds', 0):.2f} / {cpu.get('ehr_seconds', 0):.2f} | {errors(l['errors'])} |")
    for c in d.get("ratio_ceilings", []):
        out += ["", f"CPU ceiling of {c['sessions']} sessions vs 1, EHR +{c['ehr_rtt_ms']} ms: {c['ceiling']:.2f} (one patient took "
                f"{c['one_patient_seconds']:.2f} s; the CPU the {c['sessions']}-session level used needs at least {c['least_seconds']:.2f} s "
                f"on {d['machine']['cpus']} cores)."]
    out += ["", "### Model-free turns (rules answer; audit committed before the reply)", "",
            "| backend | depth | at once | turns | turns/s | p50 ms | p95 ms | p99 ms | writes/tx | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in d["model_free"]:
        lat = m["latency"]
        out.append(f"| {m['backend']} | {m['level']} | {m['concurrency']} | {m['turns']} | {m['turns_per_sec']:.0f} | "
                   f"{lat['p50_ms']:.2f} | {lat['p95_ms']:.1f} | {lat['p99_ms']:.1f} | {m['writes_per_transaction']:.1f} | {errors(m['errors'])} |")
    s = d["streams"]
    bl, lat = s["baseline_latency"], s["latency"]
    out += ["", "### Streams held", "", "| | turns/s | p50 ms | p95 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---|",
            f"| {s['active']} active, no idle stream (baseline) | {s['baseline_turns_per_sec']:.0f} | {bl['p50_ms']:.0f} | {bl['p95_ms']:.0f} | {bl['p99_ms']:.0f} | none |",
            f"| {s['active']} active + {s['idle_open']} idle held | {s['turns_per_sec']:.0f} | {lat['p50_ms']:.0f} | {lat['p95_ms']:.0f} | {lat['p99_ms']:.0f} | {errors(s['errors'])} |",
            "", f"{s['idle_open']} of {s['idle_requested']} idle streams open, {s['idle_closed_early']} ended early; first event of the active "
            f"turns p99 {s['first_event']['p99_ms']:.0f} ms. Memory (client and server in one process): {s['rss_mb_before']:.0f} MiB before the idle "
            f"streams, {s['rss_mb_with_idle']:.0f} MiB with them, {s['rss_mb_end']:.0f} MiB at the end; {s['open_fds_with_streams']} open files "
            f"(soft limit {s['fd_limit']}).",
            "", "### Targets", "", "| target | measured | wanted | |", "|---|---:|---|---|"]
    for t in d["targets"]:
        out.append(f"| {t['name']} | {t['value']:.2f} | {t['target']} | {'met' if t['met'] else '**missed**'} |")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/load-tables.py LOAD.json")
    main(sys.argv[1])
