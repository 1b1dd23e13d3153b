"""Throughput and memory of `headeval run` on a 10-class multi-label eval set.

    python benchmarks/bench_pipeline.py                      # 100k and 1M examples, 3 runs each
    python benchmarks/bench_pipeline.py --n 200000 --repeats 5
    python benchmarks/bench_pipeline.py --generate-only      # just build (and cache) the data
    python benchmarks/bench_pipeline.py --n 1000000 3000000 --gzip --modes floor pipeline
    python benchmarks/bench_pipeline.py --n 3000000 --modes pipeline workers2
    python benchmarks/bench_pipeline.py --n 1000000 --modes pipeline baseline options
                          # one model / candidate + baseline / metric options, alternating
    python benchmarks/bench_pipeline.py --n 1000000 --modes pipeline jackknife bootstrap
                          # without / with confidence intervals (20 replicates), alternating
    python benchmarks/bench_pipeline.py --repo /tmp/base --repo .   # A/B two checkouts
    python benchmarks/bench_pipeline.py -- --experiments=x          # options after -- go to Beam

Data: N tf.train.Examples with `labels` (var-length int64 class ids of 10
classes, prevalences 5%..50%), `logits` (float[10], label + Gaussian noise),
`region` (a slice feature with 5 values of unequal frequency) and `weight`
(uniform 0.5-2). Written once per (N, files, seed, compression) with
`pipeline.io.writer.write_examples` into a cache folder (default
$TMPDIR/headeval-bench) and reused.

Config: one multi_label head, thresholds 0.3 / 0.5 / 0.7, per-class metrics
for all 10 classes, the weight column, slices [[], [region]].

The data also hold `baseline_logits` (the label with more noise): mode
`baseline` runs the config with `baseline: {logits: baseline_logits}` (two
models evaluated on the same parsed batches in one pass; issue 18's bound:
at most 1.6x `pipeline`). Mode `options` adds METRIC_OPTIONS to the head
(`average: [macro, weighted]`, `derived_rates: true`; issue 20's bound:
within 10 % of `pipeline`). `--baseline` and `--metric-options both` are
shorthands for `--modes pipeline baseline` / `--modes pipeline options`.
Modes `jackknife` and `bootstrap` turn on `metrics.confidence_intervals`
with that method and `--replicates` (default 20; issue 19's bound: at least
40 % of the speed of `pipeline`); `--intervals METHOD` is a shorthand.

Each repetition runs `python -m pipeline run CONFIG --output DIR --overwrite
--quiet --runner=FnApiRunner [beam options]` as a child process, so
start-up (importing TensorFlow and Beam) is part of the process time and the
child's peak RSS is measured alone (`os.wait4`'s rusage: the largest of the
child and the processes it waited for). Reported per N: median wall seconds,
examples/s from the process wall time, examples/s from the pipeline's own
wall time in run.json (when it records one), peak RSS.

Modes (`--modes`, run in turn within each repetition, so that A and B see
the same load): `pipeline` (one process, in-process FnApiRunner),
`workers2` (`--direct_running_mode=multi_processing
--direct_num_workers=2`: what a user asking for two workers gets, one
process on an input too small for them, pipeline/runtime/workers.py),
`workers2-forced` (the same with HEADEVAL_MIN_WORKER_BYTES=0: always two
processes), and `floor`: a child process that reads and
parses the same files with `tf.data.TFRecordDataset(files).batch(B)
.map(tf.io.parse_example)` and does nothing else: what reading and parsing
alone cost in the same sitting. Every figure is printed with its ratio to
the floor, and with two or more counts the steady state, (largest n -
smallest n) / (difference of their median process seconds), which leaves
out start-up and shut-down. `--repo` (repeatable) runs the pipeline modes
from other checkouts too (an A/B of two commits, alternating).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

N_CLASSES = 10
PREVALENCE = np.linspace(0.05, 0.5, N_CLASSES)
REGIONS = ("north", "south", "east", "west", "center")
REGION_P = (0.35, 0.25, 0.2, 0.15, 0.05)
THRESHOLDS = (0.3, 0.5, 0.7)
DATA_VERSION = 2  # bump when the generator changes: invalidates the cache
# --metric-options: what the head gets (issue 20: within 10 % of the run without).
METRIC_OPTIONS = {"average": ["macro", "weighted"], "derived_rates": True}


def generate_columns(rng, n):
    """One chunk of benchmark columns (name -> array / RaggedTensor)."""
    import tensorflow as tf

    y = rng.random((n, N_CLASSES)) < PREVALENCE
    logits = (rng.normal(-1.0, 1.0, (n, N_CLASSES)) + 2.0 * y).astype(np.float32)
    baseline = (rng.normal(-1.0, 1.5, (n, N_CLASSES)) + 1.6 * y).astype(np.float32)
    ids = np.nonzero(y)[1].astype(np.int64)
    labels = tf.RaggedTensor.from_row_lengths(ids, y.sum(axis=1).astype(np.int64))
    region = np.array(REGIONS)[rng.choice(len(REGIONS), n, p=REGION_P)]
    weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return {"labels": labels, "logits": logits, "region": region, "weight": weight,
            "baseline_logits": baseline}


def config_dict(pattern, baseline=False):
    out = {
        "input": {
            "pattern": pattern,
            "features": {
                "labels": {"dtype": "int64", "varlen": True},
                "logits": {"dtype": "float32", "shape": [N_CLASSES]},
                "region": {"dtype": "string"},
                "weight": {"dtype": "float32", "default": 1.0},
            },
        },
        "model": {"logits": "logits"},
        "heads": [{
            "type": "multi_label", "n_classes": N_CLASSES, "label": "labels",
            "weight_column": "weight", "thresholds": list(THRESHOLDS),
            "classes_for_class_based_metrics": list(range(N_CLASSES)),
        }],
        "slices": [[], ["region"]],
        "output": "out",
    }
    if baseline:  # only then parsed: the one-model run reads what it did before
        out["input"]["features"]["baseline_logits"] = {"dtype": "float32",
                                                       "shape": [N_CLASSES]}
        out["baseline"] = {"logits": "baseline_logits"}
    return out


def dataset(n, files, seed, gzip, cache_dir, log=print):
    """Folder holding `n` examples in `files` TFRecord files plus config.yaml;
    built on first use, then reused. Returns (folder, config path, seconds
    spent writing or None when cached)."""
    import yaml

    from pipeline.io.writer import write_examples

    suffix = ".tfrecord.gz" if gzip else ".tfrecord"
    folder = os.path.join(cache_dir, "v%d-n%d-f%d-s%d-%s" % (DATA_VERSION, n, files, seed,
                                                          "gz" if gzip else "raw"))
    config = os.path.join(folder, "config.yaml")
    marker = os.path.join(folder, "DONE")
    if os.path.exists(marker):
        return folder, config, None
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    bounds = np.linspace(0, n, files + 1).astype(int)
    for f in range(files):
        path = os.path.join(folder, "part-%05d-of-%05d%s" % (f, files, suffix))
        # A file's examples are generated in one go (n / files of them).
        count = bounds[f + 1] - bounds[f]
        write_examples(path, generate_columns(rng, count), compression="GZIP" if gzip else "NONE")
    seconds = time.perf_counter() - start
    with open(config, "w") as fh:
        yaml.safe_dump(config_dict("part-*" + suffix), fh, sort_keys=False)
    with open(baseline_config(config), "w") as fh:
        yaml.safe_dump(config_dict("part-*" + suffix, baseline=True), fh, sort_keys=False)
    with open(marker, "w") as fh:
        json.dump({"n": n, "files": files, "seed": seed, "gzip": gzip,
                   "write_seconds": seconds}, fh)
    log("  generated %d examples in %d files in %.1f s (%.0f examples/s)"
        % (n, files, seconds, n / seconds))
    return folder, config, seconds


def baseline_config(config):
    """The two-model config beside a data set's one-model config."""
    return os.path.join(os.path.dirname(config), "config-baseline.yaml")


def options_config(folder, config):
    """config-options.yaml beside `config`: the same with METRIC_OPTIONS on the head."""
    import yaml

    with open(config) as fh:
        data = yaml.safe_load(fh)
    data["heads"][0].update(METRIC_OPTIONS)
    path = os.path.join(folder, "config-options.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    return path


def intervals_config(config, method, replicates):
    """A copy of `config` (a YAML path) with metrics.confidence_intervals on."""
    import yaml

    with open(config) as fh:
        data = yaml.safe_load(fh)
    data.setdefault("metrics", {})["confidence_intervals"] = {"method": method,
                                                              "replicates": replicates}
    path = config[:-len(".yaml")] + "-%s-%d.yaml" % (method, replicates)
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    return path


WORKERS2 = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
MODES = ("floor", "pipeline", "workers2", "workers2-forced", "baseline", "options", "jackknife",
         "bootstrap")
# workers2: what a user who asks for two workers gets (on a small input, one
# process: pipeline/runtime/workers.py); workers2-forced: always two processes.
FORCED_ENV = {"HEADEVAL_MIN_WORKER_BYTES": "0"}
INTERVAL_MODES = {"jackknife": "jackknife", "bootstrap": "poisson_bootstrap"}
FLOOR_BATCH = 8192  # the pipeline's default batch_size


def _child(cmd, repo, log_path, extra_env=None):
    """Runs `cmd` in `repo`: (wall s, peak RSS bytes of it and its children)."""
    env = dict(os.environ, **(extra_env or {}))
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
    if code != 0:
        with open(log_path, errors="replace") as fh:
            tail = fh.read()[-4000:]
        raise SystemExit("child failed (exit %d): %s\n%s" % (code, " ".join(cmd), tail))
    return wall, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def run_once(config, output, beam_args, repo=REPO, extra_env=None):
    """One `python -m pipeline run` in a child process: (wall s, peak RSS bytes, run.json)."""
    cmd = [sys.executable, "-m", "pipeline", "run", config, "--output", output, "--overwrite",
           "--quiet"]
    if not any(a.startswith("--runner") for a in beam_args):
        cmd.append("--runner=FnApiRunner")
    cmd += list(beam_args)
    wall, peak = _child(cmd, repo, output.rstrip("/") + ".log", extra_env)
    with open(os.path.join(output, "run.json")) as fh:
        run = json.load(fh)
    return wall, peak, run


def floor_once(folder, gzip, output):
    """The floor in a child process: (wall s, peak RSS bytes, {"evaluated": n,
    "wall_seconds": the read loop's own seconds})."""
    cmd = [sys.executable, os.path.abspath(__file__), "--floor-child", folder]
    if gzip:
        cmd.append("--gzip")
    wall, peak = _child(cmd, REPO, output + ".log")
    with open(output + ".log") as fh:
        last = fh.read().strip().splitlines()[-1]
    return wall, peak, json.loads(last)


def floor_child(folder, gzip):
    """Reads and parses every file of `folder` with tf.data, nothing else;
    prints {"evaluated": examples, "wall_seconds": seconds of the loop}."""
    import glob

    import tensorflow as tf
    spec = {"labels": tf.io.RaggedFeature(tf.int64),
            "logits": tf.io.FixedLenFeature([N_CLASSES], tf.float32),
            "region": tf.io.FixedLenFeature([], tf.string),
            "weight": tf.io.FixedLenFeature([], tf.float32, default_value=1.0)}
    files = sorted(glob.glob(os.path.join(folder, "part-*" + (".tfrecord.gz" if gzip
                                                                 else ".tfrecord"))))
    start = time.perf_counter()
    data = (tf.data.TFRecordDataset(files, compression_type="GZIP" if gzip else "")
            .batch(FLOOR_BATCH).map(lambda r: tf.io.parse_example(r, spec)))
    n = 0
    for batch in data:
        n += int(batch["weight"].shape[0])
    print(json.dumps({"evaluated": n, "wall_seconds": time.perf_counter() - start}))


def pipeline_seconds(run):
    """The pipeline's own wall time from run.json, if it records one."""
    for holder in (run, run.get("timing", {}), run.get("times", {})):
        if not isinstance(holder, dict):
            continue
        for key in ("wall_time_s", "wall_seconds", "wall_s", "wall_time", "seconds"):
            if isinstance(holder.get(key), (int, float)):
                return float(holder[key])
    return None


def evaluated_count(run):
    counts = run.get("counts", run)
    return counts.get("evaluated")


def _variants(modes, repos):
    """(label, mode, repo) to run in each repetition: the floor once, the
    pipeline modes once per checkout."""
    out = []
    for mode in modes:
        for repo in ([REPO] if mode == "floor" else repos):
            label = mode if len(repos) == 1 or mode == "floor" else \
                "%s@%s" % (mode, os.path.basename(os.path.normpath(repo)))
            out.append((label, mode, repo))
    return out


def _median(values):
    return statistics.median(values) if values else None


def summarize(results, variants):
    """Prints the table: per variant and n, medians and ratios to the floor;
    then the steady state between the smallest and largest n."""
    floor = {r["n"]: r for r in results if r["mode"] == "floor"}
    one = {r["n"]: r for r in results if r["label"] == "pipeline"}
    print()
    print("%-22s %9s %8s %11s %8s %10s %10s %9s" % (
        "mode", "examples", "median s", "examples/s", "/ floor", "x pipeline", "pl s",
        "RSS MiB"))
    for r in results:
        f, p = floor.get(r["n"]), one.get(r["n"])
        ratio = f["median_process_seconds"] / r["median_process_seconds"] if f else None
        times = (r["median_process_seconds"] / p["median_process_seconds"]
                 if p and r["mode"] != "floor" else None)
        print("%-22s %9d %8.2f %11.0f %8s %10s %10s %9.0f"
              % (r["label"], r["n"], r["median_process_seconds"], r["examples_per_s"],
                 "%.2f" % ratio if ratio else "-", "%.2f" % times if times else "-",
                 "%.2f" % r["median_pipeline_seconds"] if r["median_pipeline_seconds"] else "-",
                 r["peak_rss_mib"]))
    ns = sorted({r["n"] for r in results})
    if len(ns) < 2:
        return {}
    lo, hi = ns[0], ns[-1]
    steady = {}
    for label, _, _ in variants:
        by_n = {r["n"]: r for r in results if r["label"] == label}
        if lo in by_n and hi in by_n:
            dt = by_n[hi]["median_process_seconds"] - by_n[lo]["median_process_seconds"]
            steady[label] = (hi - lo) / dt if dt > 0 else float("inf")
    print()
    print("steady state (%d - %d examples) / (difference of median process seconds):"
          % (hi, lo))
    for label, rate in steady.items():
        ratio = rate / steady["floor"] if "floor" in steady else None
        print("  %-22s %11.0f examples/s%s" % (label, rate,
                                               "   %.2f of the floor" % ratio if ratio else ""))
    return steady


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--floor-child"]:
        return floor_child(argv[1], "--gzip" in argv[2:])
    beam_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, beam_args = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="example counts to benchmark (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per count (median)")
    parser.add_argument("--files", type=int, default=4, help="TFRecord files per data set")
    parser.add_argument("--gzip", action="store_true", help="write gzip-compressed files")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["pipeline"],
                        help="what to run, in turn (default: %(default)s)")
    parser.add_argument("--workers", type=int, choices=[2], default=None,
                        help="shorthand for --modes pipeline workers2")
    parser.add_argument("--repo", action="append", default=None,
                        help="checkout to run the pipeline from (repeat for an A/B; "
                             "default: this one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(),
                                                             "headeval-bench"))
    parser.add_argument("--generate-only", action="store_true",
                        help="build the cached data sets and stop")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--baseline", action="store_true",
                        help="time one model against candidate + baseline, alternating")
    parser.add_argument("--metric-options", choices=("off", "on", "both"), default="off",
                        help="the head's METRIC_OPTIONS: off, on, or both alternately")
    parser.add_argument("--intervals", choices=("jackknife", "poisson_bootstrap"),
                        help="also run with metrics.confidence_intervals of this method, "
                             "alternating with the runs without")
    parser.add_argument("--replicates", type=int, default=20,
                        help="replicates with --intervals (default: %(default)s)")
    args = parser.parse_args(argv)
    modes = list(args.modes)
    if args.workers and "workers2" not in modes:
        modes += ["pipeline", "workers2"] if "pipeline" not in modes else ["workers2"]
    for flag, mode in ((args.baseline, "baseline"), (args.metric_options == "both", "options"),
                       (args.intervals == "jackknife", "jackknife"),
                       (args.intervals == "poisson_bootstrap", "bootstrap")):
        if flag:
            modes += [m for m in ("pipeline", mode) if m not in modes]
    repos = [os.path.abspath(r) for r in (args.repo or [REPO])]
    variants = _variants(modes, repos)

    data = {}
    for n in args.n:
        data[n] = dataset(n, args.files, args.seed, args.gzip, args.cache_dir)
    if args.generate_only:
        return
    runs = {(label, n): [] for label, _, _ in variants for n in args.n}
    for r in range(args.repeats):
        for n in args.n:
            folder, config, _ = data[n]
            for label, mode, repo in variants:
                output = os.path.join(folder, "report-%s-%d" % (label.replace("@", "-"), r))
                if mode == "floor":
                    wall, peak, run = floor_once(folder, args.gzip, output)
                else:
                    if mode in INTERVAL_MODES:
                        chosen = intervals_config(config, INTERVAL_MODES[mode], args.replicates)
                    else:
                        chosen = {"baseline": baseline_config(config),
                                  "options": options_config(folder, config)}.get(mode, config)
                    wall, peak, run = run_once(
                        chosen, output,
                        beam_args + (WORKERS2 if mode.startswith("workers2") else []), repo,
                        FORCED_ENV if mode == "workers2-forced" else None)
                evaluated = evaluated_count(run)
                if evaluated is not None and evaluated != n:
                    raise SystemExit("%s: %r examples evaluated, expected %d"
                                     % (label, evaluated, n))
                p = pipeline_seconds(run)
                runs[label, n].append((wall, peak, p))
                print("  run %d  n=%d  %-22s %6.2f s process, %s pipeline, peak RSS %.0f MiB"
                      % (r + 1, n, label, wall, "%.2f s" % p if p is not None else "?",
                         peak / 2**20), flush=True)
    results = []
    for n in args.n:
        for label, mode, repo in variants:
            got = runs[label, n]
            walls = [w for w, _, _ in got]
            pipeline_walls = [p for _, _, p in got if p is not None]
            results.append({
                "label": label, "mode": mode, "repo": repo, "n": n, "files": args.files,
                "gzip": args.gzip, "beam_args": beam_args,
                "process_seconds": walls, "median_process_seconds": _median(walls),
                "examples_per_s": n / _median(walls),
                "peak_rss_mib": max(rss for _, rss, _ in got) / 2**20,
                "pipeline_seconds": pipeline_walls or None,
                "median_pipeline_seconds": _median(pipeline_walls),
            })
    steady = summarize(results, variants)
    print("(examples/s and / floor: over the whole child process, start-up included; "
          "pl s: the pipeline's own wall time from run.json, or the floor's read loop)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"runs": results, "steady_examples_per_s": steady}, fh, indent=2)


if __name__ == "__main__":
    main()
