#!/usr/bin/python3
"""The cost of freshness, pandas' side (bench/README.md, "The cost of
freshness").

A model sends --events_per_hour events (default 1,000,000); its window of W
hours is evaluated every 10 seconds (360 times an hour). Here each
evaluation recomputes the window from its rows, as a batch job in pandas
would: fairness (selection rates and confusion counts by race, by sex and by
race&sex, with the gaps between groups), calibration (15 equal-width bins,
overall and by the same groups) and drift (each of 20 features binned at a
reference's deciles, or by category, with PSI, Jensen-Shannon and
Hellinger against the reference). Ingest is a copy of each 10-second batch,
already decoded into columns, into the window's arrays. So:

    CPU s/hour = ingest per event * events_per_hour + 360 * per evaluation

Vigie's side is bench/freshness/freshness_benchmark (C++): given its JSON
output (--vigie_json, from --benchmark_out=FILE --benchmark_out_format=json)
the table shows both.

The rows are what Vigie's benchmark observes (bench/fixtures/model_events.h):
race among 8 groups, sex among 2, a calibrated score, 15 numeric features
N(shift, 1) and 5 categorical ones of 12 categories. Groups and categories
are held as small integer codes and histograms use numpy's bincount: the
fastest way pandas offers, not the most idiomatic (strings and pd.cut are
several times slower), so that the comparison does not flatter Vigie.

A window whose rows would take more than half the memory available is
skipped, and says so. Runs with Debian's python3-pandas (/usr/bin/python3);
exits 77 (CTest's skip code) when numpy or pandas is missing.
"""

import argparse
import json
import statistics
import sys
import time

try:
    import numpy as np
    import pandas as pd
except ImportError as error:  # pragma: no cover - depends on the machine
    print(f"pandas_window: SKIPPED: {error} (install Debian's python3-pandas "
          "and run with /usr/bin/python3)")
    sys.exit(77)

NUMERIC = 15
CATEGORICAL = 5
CATEGORIES = 12
RACES = 8
CALIBRATION_BINS = 15
DRIFT_BINS = 10
EVALUATIONS_PER_HOUR = 360  # One every 10 seconds.
PSI_EPSILON = 1e-4  # As Vigie's DriftReportOptions::psi_epsilon.
# Bytes per row: race, sex, decision, label (1 each), score (8), numeric
# features (8 each), categorical codes (1 each).
ROW_BYTES = 4 + 8 + 8 * NUMERIC + CATEGORICAL


def make_rows(rows, seed, shift=0.0):
    """A window's rows, drawn in chunks to bound the temporaries."""
    rng = np.random.default_rng(seed)
    columns = {
        "race": rng.integers(0, RACES, rows, dtype=np.int8),
        "sex": rng.integers(0, 2, rows, dtype=np.int8),
    }
    score = rng.random(rows)
    columns["score"] = score
    columns["decision"] = score >= 0.5
    columns["label"] = rng.random(rows) < score
    for f in range(NUMERIC):
        column = np.empty(rows)
        for start in range(0, rows, 1 << 22):
            end = min(rows, start + (1 << 22))
            column[start:end] = rng.normal(shift, 1.0, end - start)
        columns[f"n{f}"] = column
    for f in range(CATEGORICAL):
        columns[f"c{f}"] = rng.integers(0, CATEGORIES, rows, dtype=np.int8)
    return pd.DataFrame(columns, copy=False)


def reference_profile(reference):
    """Per numeric feature, the inner edges at the reference's deciles; per
    feature, the reference's proportions in the bins (below the minimum and
    above the maximum included, as Vigie's profile)."""
    profile = {}
    for f in range(NUMERIC):
        values = reference[f"n{f}"].to_numpy()
        inner = np.quantile(values, np.linspace(0, 1, DRIFT_BINS + 1))
        counts = np.bincount(np.searchsorted(inner, values, side="right"),
                             minlength=DRIFT_BINS + 2)
        profile[f"n{f}"] = (inner, counts / counts.sum())
    for f in range(CATEGORICAL):
        counts = np.bincount(reference[f"c{f}"].to_numpy(),
                             minlength=CATEGORIES)
        profile[f"c{f}"] = (None, counts / counts.sum())
    return profile


def distances(expected, actual):
    """PSI, Jensen-Shannon (base 2) and Hellinger distance of two binned
    distributions."""
    e = np.maximum(expected, PSI_EPSILON)
    a = np.maximum(actual, PSI_EPSILON)
    psi = float(np.sum((a - e) * np.log(a / e)))
    m = (expected + actual) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_e = np.where(expected > 0, expected * np.log2(expected / m), 0)
        kl_a = np.where(actual > 0, actual * np.log2(actual / m), 0)
    js = float(np.sqrt(max(0.0, (kl_e.sum() + kl_a.sum()) / 2)))
    hellinger = float(
        np.sqrt(max(0.0, 1 - np.sum(np.sqrt(expected * actual)))))
    return psi, js, hellinger


def fairness(window, keys, cell):
    """Confusion counts by group, their rates, and the gaps."""
    counts = window.groupby(keys + [cell]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=range(4), fill_value=0)
    tn, fn, fp, tp = (counts[c] for c in range(4))
    n = tn + fn + fp + tp
    rates = pd.DataFrame({
        "selection": (fp + tp) / n,
        "tpr": tp / (tp + fn),
        "fpr": fp / (fp + tn),
        "ppv": tp / (tp + fp),
        "accuracy": (tp + tn) / n,
    })
    return rates, rates.max() - rates.min(), rates.min() / rates.max()


def calibration(window, keys, bins):
    """Per group and bin: count, positives, mean score; ECE per group."""
    grouped = window.groupby(keys + [bins]).agg(
        count=("label", "size"), positives=("label", "sum"),
        score=("score", "sum"))
    per_bin_gap = (grouped["score"] - grouped["positives"]).abs()
    totals = grouped["count"].groupby(level=keys).sum()
    return per_bin_gap.groupby(level=keys).sum() / totals


def evaluate(window, profile):
    """One evaluation of the window, recomputed from its rows."""
    out = {}
    # The confusion cell of each row: 2 * decision + label.
    cell = pd.Series(window["decision"].to_numpy(np.int8) * 2 +
                     window["label"].to_numpy(np.int8), name="cell",
                     index=window.index)
    for keys in (["race"], ["sex"], ["race", "sex"]):
        out["fairness/" + "&".join(keys)] = fairness(window, keys, cell)
    score = window["score"].to_numpy()
    bins = pd.Series(
        np.minimum((score * CALIBRATION_BINS).astype(np.int8),
                   CALIBRATION_BINS - 1), name="bin", index=window.index)
    label = window["label"].to_numpy()
    count = np.bincount(bins.to_numpy(), minlength=CALIBRATION_BINS)
    positives = np.bincount(bins.to_numpy(), weights=label,
                            minlength=CALIBRATION_BINS)
    sums = np.bincount(bins.to_numpy(), weights=score,
                       minlength=CALIBRATION_BINS)
    out["ece"] = float(np.abs(sums - positives).sum() / count.sum())
    for keys in (["race"], ["sex"], ["race", "sex"]):
        out["calibration/" + "&".join(keys)] = calibration(window, keys, bins)
    for name, (inner, expected) in profile.items():
        values = window[name].to_numpy()
        if inner is None:
            counts = np.bincount(values, minlength=CATEGORIES)
        else:
            counts = np.bincount(
                np.searchsorted(inner, values, side="right"),
                minlength=DRIFT_BINS + 2)
            out[name + "/moments"] = (values.mean(), values.std())
        out[name] = distances(expected, counts / counts.sum())
    return out


def ingest_per_event(events_per_hour, seed):
    """CPU seconds per event to copy an hour of 10-second batches, already
    columnar, into a window's ring of arrays."""
    batch = events_per_hour // EVALUATIONS_PER_HOUR
    source = make_rows(batch, seed)
    columns = {name: source[name].to_numpy() for name in source.columns}
    ring = {name: np.empty(events_per_hour, dtype=column.dtype)
            for name, column in columns.items()}
    began = time.process_time()
    for b in range(EVALUATIONS_PER_HOUR):
        at = b * batch
        for name, column in columns.items():
            ring[name][at:at + batch] = column
    return (time.process_time() - began) / (batch * EVALUATIONS_PER_HOUR)


def available_bytes():
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def vigie_figures(path):
    """Per-event ingest and per-evaluation CPU seconds, by panes, from
    freshness_benchmark's JSON output (medians when it has them)."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    runs = {}
    for b in report["benchmarks"]:
        if b.get("run_type") == "aggregate" and b["aggregate_name"] != "median":
            continue
        name = b.get("run_name", b["name"])
        seconds = b["cpu_time"] * scale[b["time_unit"]]
        runs.setdefault(name, []).append(
            (b.get("run_type") == "aggregate", seconds, b))
    figures = {"evaluate": {}}
    for name, entries in runs.items():
        medians = [e for e in entries if e[0]]
        chosen = medians[0] if medians else entries[0]
        seconds, bench = chosen[1], chosen[2]
        if name.startswith("BM_FreshnessIngest"):
            # items_per_second is events over CPU time.
            figures["ingest"] = 1 / bench["items_per_second"]
        elif name.startswith("BM_FreshnessEvaluate"):
            figures["evaluate"][int(bench["panes"])] = seconds
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events_per_hour", type=int, default=1_000_000)
    parser.add_argument("--windows", default="1,6,24,168",
                        help="window lengths in hours, comma-separated")
    parser.add_argument("--evaluations", type=int, default=3,
                        help="evaluations timed per window (median kept)")
    parser.add_argument("--vigie_json", default="",
                        help="freshness_benchmark's --benchmark_out JSON")
    args = parser.parse_args()

    vigie = vigie_figures(args.vigie_json) if args.vigie_json else None
    print(f"pandas {pd.__version__}, numpy {np.__version__}; "
          f"{args.events_per_hour:,} events an hour, "
          f"{EVALUATIONS_PER_HOUR} evaluations an hour")
    reference = make_rows(min(args.events_per_hour, 1_000_000), seed=99)
    profile = reference_profile(reference)
    del reference
    pandas_ingest = ingest_per_event(args.events_per_hour, seed=98)
    print(f"pandas ingest: {pandas_ingest * 1e9:.1f} ns per event "
          "(a copy of columnar batches)")
    if vigie is not None and "ingest" in vigie:
        print(f"Vigie ingest:  {vigie['ingest'] * 1e9:.1f} ns per event "
              "(observed into the pane's monitors)")

    for hours in (int(h) for h in args.windows.split(",")):
        rows = hours * args.events_per_hour
        print(f"\nWindow of {hours} h ({rows:,} events)")
        needed = rows * ROW_BYTES
        if needed > available_bytes() / 2:
            print(f"  pandas: SKIPPED, the rows need {needed / 2**30:.1f} "
                  f"GiB, more than half of the {available_bytes() / 2**30:.1f}"
                  " GiB available")
            pandas_eval = None
        else:
            window = make_rows(rows, seed=hours, shift=0.1)
            times = []
            for _ in range(args.evaluations):
                began = time.process_time()
                evaluate(window, profile)
                times.append(time.process_time() - began)
            del window
            pandas_eval = statistics.median(times)
        print("  | | per evaluation | ingest per event | CPU s per hour |")
        print("  |---|---|---|---|")
        if pandas_eval is not None:
            total = (pandas_ingest * args.events_per_hour +
                     EVALUATIONS_PER_HOUR * pandas_eval)
            print(f"  | pandas, recomputed | {pandas_eval * 1e3:,.1f} ms | "
                  f"{pandas_ingest * 1e9:.1f} ns | {total:,.1f} |")
        if vigie is not None and hours in vigie["evaluate"]:
            per_eval = vigie["evaluate"][hours]
            total = (vigie["ingest"] * args.events_per_hour +
                     EVALUATIONS_PER_HOUR * per_eval)
            panes = f"{hours} pane{'s' if hours > 1 else ''}"
            print(f"  | Vigie, {panes} merged | {per_eval * 1e3:,.2f} ms"
                  f" | {vigie['ingest'] * 1e9:.1f} ns | {total:,.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
