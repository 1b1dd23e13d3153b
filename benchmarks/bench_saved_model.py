"""Throughput of `headeval run` with a SavedModel run on the workers, per device.

    python benchmarks/bench_saved_model.py                     # 200k examples, cpu (+ gpu if seen)
    python benchmarks/bench_saved_model.py --n 1000000 --devices cpu gpu --repeats 3

Data: N raw examples (`x`: float[16], `country`, a binary label `clicked`),
written once into a cache folder. Model: a Keras 3 MLP (16 -> 256 -> 256 -> 1,
a logit), trained for one epoch on 20k examples and exported with
`model.export()`. Config: one binary head with thresholds 0.3/0.5/0.7,
sliced by country, `model: {saved_model, device: D, batch_size: 8192}`.

Each run is `python -m pipeline run ... --runner=FnApiRunner` in a child
process (bench_pipeline.run_once): reported per device are the median
process wall time, examples/s over the process and over the pipeline's own
wall time (run.json), and peak RSS. `device: gpu` is skipped, with a line
saying so, where TensorFlow sees no GPU.
"""
import argparse
import os
import statistics
import sys
import tempfile
from typing import List, Optional

import numpy as np
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_pipeline import pipeline_seconds, run_once  # noqa: E402

from pipeline.runtime.devices import CPU, GPU  # noqa: E402

N_FEATURES = 16


def make_model(folder: str, rng: np.random.Generator) -> str:
    import keras
    path = os.path.join(folder, "saved_model")
    if os.path.exists(path):
        return path
    x = rng.normal(size=(20_000, N_FEATURES)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + rng.normal(0, 1, len(x)) > 0).astype(np.float32)
    inputs = keras.Input((N_FEATURES,), name="x")
    h = keras.layers.Dense(256, activation="relu")(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=512, verbose=0)
    model.export(path, verbose=False)
    return path


def make_data(folder: str, n: int, rng: np.random.Generator) -> str:
    from pipeline.io.writer import write_examples
    path = os.path.join(folder, "data-n%d.tfrecord" % n)
    if not os.path.exists(path):
        x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        write_examples(path, {
            "x": x, "country": np.array(["US", "FR", "JP", "BR"])[rng.integers(0, 4, n)],
            "clicked": (x[:, 0] - x[:, 1] + rng.normal(0, 1, n) > 0).astype(np.int64)})
    return path


def write_config(folder: str, data: str, model: str, device: str) -> str:
    path = os.path.join(folder, "config-%s.yaml" % device)
    with open(path, "w") as f:
        yaml.safe_dump({
            "input": {"pattern": data, "features": {
                "x": {"dtype": "float32", "shape": [N_FEATURES]},
                "country": {"dtype": "string"}, "clicked": {"dtype": "int64"}}},
            "model": {"saved_model": model, "device": device, "batch_size": 8192},
            "heads": [{"type": "binary", "label": "clicked", "thresholds": [0.3, 0.5, 0.7]}],
            "slices": [[], ["country"]],
        }, f, sort_keys=False)
    return path


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--devices", nargs="+", default=[CPU, GPU], choices=[CPU, GPU])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(),
                                                             "headeval-bench-model"))
    args = parser.parse_args(argv)

    import tensorflow as tf
    os.makedirs(args.cache_dir, exist_ok=True)
    rng = np.random.default_rng(0)
    model = make_model(args.cache_dir, rng)
    data = make_data(args.cache_dir, args.n, rng)
    gpus = tf.config.list_physical_devices("GPU")
    print("%d examples; TensorFlow sees %d GPU(s)" % (args.n, len(gpus)))
    rows = []
    for device in args.devices:
        if device == GPU and not gpus:
            print("device gpu: skipped, TensorFlow sees no GPU on this machine")
            continue
        config = write_config(args.cache_dir, data, model, device)
        walls, peaks, pipeline = [], [], []
        for r in range(args.repeats):
            out = os.path.join(args.cache_dir, "report-%s-%d" % (device, r))
            wall, peak, run = run_once(config, out, [])
            walls.append(wall)
            peaks.append(peak)
            pipeline.append(pipeline_seconds(run))
            print("  %s run %d: %.1f s process, %.1f s pipeline, peak RSS %.0f MiB"
                  % (device, r + 1, wall, pipeline[-1], peak / 2**20), flush=True)
        rows.append((device, statistics.median(walls), args.n / statistics.median(walls),
                     args.n / statistics.median(pipeline), max(peaks) / 2**20))
    print("\n%6s  %9s  %20s  %21s  %13s" % ("device", "median s", "examples/s (process)",
                                            "examples/s (pipeline)", "peak RSS MiB"))
    for device, wall, per_s, per_s_pl, rss in rows:
        print("%6s  %9.1f  %20.0f  %21.0f  %13.0f" % (device, wall, per_s, per_s_pl, rss))


if __name__ == "__main__":
    main()
