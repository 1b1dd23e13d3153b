"""Throughput and memory of `headeval run` on a 10-class multi-label eval set.

    python benchmarks/bench_pipeline.py                      # 100k and 1M examples, 3 runs each
    python benchmarks/bench_pipeline.py --n 200000 --repeats 5
    python benchmarks/bench_pipeline.py --generate-only      # just build (and cache) the data
    python benchmarks/bench_pipeline.py -- --direct_running_mode=multi_processing \\
        --direct_num_workers=2                               # options after -- go to Beam
    python benchmarks/bench_pipeline.py --n 1000000 --intervals poisson_bootstrap
                                    # alternates runs without and with confidence intervals

Data: N tf.train.Examples with `labels` (var-length int64 class ids of 10
classes, prevalences 5%..50%), `logits` (float[10], label + Gaussian noise),
`region` (a slice feature with 5 values of unequal frequency) and `weight`
(uniform 0.5-2). Written once per (N, files, seed, compression) with
`pipeline.io.writer.write_examples` into a cache folder (default
$TMPDIR/headeval-bench) and reused.

Config: one multi_label head, thresholds 0.3 / 0.5 / 0.7, per-class metrics
for all 10 classes, the weight column, slices [[], [region]].

Each repetition runs `python -m pipeline run CONFIG --output DIR --overwrite
--quiet --runner=FnApiRunner [beam options]` as a child process, so
start-up (importing TensorFlow and Beam) is part of the process time and the
child's peak RSS is measured alone (`os.wait4`'s rusage: the largest of the
child and the processes it waited for). Reported per N: median wall seconds,
examples/s from the process wall time, examples/s from the pipeline's own
wall time in run.json (when it records one), peak RSS.
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
DATA_VERSION = 1  # bump when the generator changes: invalidates the cache


def generate_columns(rng, n):
    """One chunk of benchmark columns (name -> array / RaggedTensor)."""
    import tensorflow as tf

    y = rng.random((n, N_CLASSES)) < PREVALENCE
    logits = (rng.normal(-1.0, 1.0, (n, N_CLASSES)) + 2.0 * y).astype(np.float32)
    ids = np.nonzero(y)[1].astype(np.int64)
    labels = tf.RaggedTensor.from_row_lengths(ids, y.sum(axis=1).astype(np.int64))
    region = np.array(REGIONS)[rng.choice(len(REGIONS), n, p=REGION_P)]
    weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return {"labels": labels, "logits": logits, "region": region, "weight": weight}


def config_dict(pattern):
    return {
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
    with open(marker, "w") as fh:
        json.dump({"n": n, "files": files, "seed": seed, "gzip": gzip,
                   "write_seconds": seconds}, fh)
    log("  generated %d examples in %d files in %.1f s (%.0f examples/s)"
        % (n, files, seconds, n / seconds))
    return folder, config, seconds


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


def run_once(config, output, beam_args):
    """One `python -m pipeline run` in a child process: (wall s, peak RSS bytes, run.json)."""
    cmd = [sys.executable, "-m", "pipeline", "run", config, "--output", output, "--overwrite",
           "--quiet"]
    if not any(a.startswith("--runner") for a in beam_args):
        cmd.append("--runner=FnApiRunner")
    cmd += list(beam_args)
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log_path = output.rstrip("/") + ".log"
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        with open(log_path, errors="replace") as fh:
            tail = fh.read()[-4000:]
        raise SystemExit("headeval run failed (exit %d): %s\n%s"
                         % (proc.returncode, " ".join(cmd), tail))
    with open(os.path.join(output, "run.json")) as fh:
        run = json.load(fh)
    return wall, usage.ru_maxrss * 1024, run  # ru_maxrss is in KiB on Linux


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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(),
                                                             "headeval-bench"))
    parser.add_argument("--generate-only", action="store_true",
                        help="build the cached data sets and stop")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--intervals", choices=("jackknife", "poisson_bootstrap"),
                        help="also run with metrics.confidence_intervals of this method, "
                             "alternating with the runs without")
    parser.add_argument("--replicates", type=int, default=20,
                        help="replicates with --intervals (default: %(default)s)")
    args = parser.parse_args(argv)

    results = []
    for n in args.n:
        print("n = %d" % n, flush=True)
        folder, config, write_s = dataset(n, args.files, args.seed, args.gzip, args.cache_dir)
        if args.generate_only:
            continue
        variants = [("", config)]
        if args.intervals:
            variants.append(("%s x%d" % (args.intervals, args.replicates),
                             intervals_config(config, args.intervals, args.replicates)))
        runs = {name: ([], [], []) for name, _ in variants}
        for r in range(args.repeats):
            for name, variant_config in variants:  # alternating: the same load for both
                walls, rss, pipeline_walls = runs[name]
                output = os.path.join(folder, "report-%d%s" % (r, "-ci" if name else ""))
                wall, peak, run = run_once(variant_config, output, beam_args)
                evaluated = evaluated_count(run)
                if evaluated is not None and evaluated != n:
                    raise SystemExit("run.json says %r examples were evaluated, expected %d"
                                     % (evaluated, n))
                walls.append(wall)
                rss.append(peak)
                p = pipeline_seconds(run)
                if p is not None:
                    pipeline_walls.append(p)
                print("  run %d%s: %.1f s process, %s pipeline, peak RSS %.0f MiB"
                      % (r + 1, " (%s)" % name if name else "", wall,
                         "%.1f s" % p if p is not None else "?", peak / 2**20), flush=True)
        for name, _ in variants:
            walls, rss, pipeline_walls = runs[name]
            results.append({
                "n": n, "files": args.files, "gzip": args.gzip, "beam_args": beam_args,
                "intervals": name or None,
                "process_seconds": walls, "median_process_seconds": statistics.median(walls),
                "examples_per_s": n / statistics.median(walls),
                "peak_rss_mib": max(rss) / 2**20,
                "pipeline_seconds": pipeline_walls or None,
                "examples_per_s_pipeline": (n / statistics.median(pipeline_walls)
                                            if pipeline_walls else None),
            })
        if args.intervals:
            plain, ci = results[-2], results[-1]
            print("  with intervals: %.0f %% of the speed without (process medians)"
                  % (100 * ci["examples_per_s"] / plain["examples_per_s"]), flush=True)

    if results:
        print()
        print("%10s  %12s  %14s  %16s  %13s  %s" % ("examples", "median s", "examples/s",
                                                  "examples/s (pl)", "peak RSS MiB",
                                                  "intervals"))
        for r in results:
            pl = r["examples_per_s_pipeline"]
            print("%10d  %12.1f  %14.0f  %16s  %13.0f  %s"
                  % (r["n"], r["median_process_seconds"], r["examples_per_s"],
                     "%.0f" % pl if pl else "-", r["peak_rss_mib"], r["intervals"] or "-"))
        print("(examples/s: over the whole child process, start-up included; "
              "(pl): over the pipeline's own wall time from run.json)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
