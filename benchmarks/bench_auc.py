"""AUC accuracy and state size of the fixed-size AUC state against exact AUC;
with --absorb, the time heads take to absorb their statistics.

Generates sigmoid(normal logits) scores with 10% positives in three regimes
(typical, rare events near 1e-4, near-certain near 1 - 1e-4), runs them
through BinaryClassHead in batches, and compares `auc` with
sklearn.metrics.roc_auc_score and `auc_precision_recall` with the same
interpolated-PR formula evaluated at every distinct score (AUC with
exact_limit=None), both on the float32 probabilities the head scores with
(our definition; `roc64` is sklearn on float64 probabilities, for reference:
near 1 float32 ties many scores).

    python benchmarks/bench_auc.py --n 1000000

--absorb times the numpy side of evaluation alone, on statistics computed
beforehand: a binary, a 10-class multi-label and a 10-class multi-class head
(extended metrics) absorbing `--batches` batches of `--batch` examples into
one metric dict per segment (every example in the overall slice and in one of
`--slices` slices, as the pipeline's evaluator lays them out), then reading
every metric, merging the dicts and pickling them (medians of `--reps`).

    python benchmarks/bench_auc.py --absorb
"""
import argparse
import pickle
import statistics
import time

import numpy as np
from sklearn.metrics import roc_auc_score

import heads
import heads.auc
import heads.metrics
import heads.segments

REGIMES = {
    "typical": (-1.0, 0.5, 1.0),      # negative mean, positive mean, std (logits)
    "rare": (-9.2, -8.7, 0.5),        # probabilities around 1e-4
    "near_certain": (9.2, 9.7, 0.5),  # probabilities around 1 - 1e-4
}


def accuracy(args):
    rng = np.random.default_rng(0)
    for name, (mu_neg, mu_pos, std) in REGIMES.items():
        y = (rng.random(args.n) < 0.1).astype(np.int64)
        z = np.where(y == 1, rng.normal(mu_pos, std, args.n), rng.normal(mu_neg, std, args.n))
        z = z.astype(np.float32)
        w = rng.uniform(0.5, 2.0, args.n).astype(np.float32)
        head = heads.BinaryClassHead(weight_column="w")
        metrics = head.metrics()
        start = time.perf_counter()
        for i in range(0, args.n, args.batch):
            sl = slice(i, i + args.batch)
            head.update_metrics(metrics, {"w": w[sl]}, z[sl, None], y[sl, None])
        seconds = time.perf_counter() - start
        p64 = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
        p32 = p64.astype(np.float32)
        exact_roc = roc_auc_score(y, p32, sample_weight=w)
        exact_roc64 = roc_auc_score(y, p64, sample_weight=w)
        exact = heads.auc.AUC("exact_pr", curve="PR", exact_limit=None)
        exact.update_state(y, p32, w)
        auc, auc_pr = metrics["auc"].result(), metrics["auc_precision_recall"].result()
        state = metrics["auc"].get_state()
        state_bytes = sum(a.nbytes for a in state.values())
        print("%-13s auc=%.9f exact=%.9f |err|=%.2e (roc64 |err|=%.2e)  auc_pr=%.9f exact=%.9f "
              "|err|=%.2e  state=%d bytes (%d exact scores, %d buckets at %d bits)  "
              "%.0f examples/s"
              % (name, auc, exact_roc, abs(auc - exact_roc), abs(auc - exact_roc64), auc_pr,
                 exact.result(), abs(auc_pr - exact.result()), state_bytes, len(state["scores"]),
                 len(state["bucket_index"]), int(state["mantissa_bits"]), args.n / seconds))


def _absorb_heads():
    return {
        "binary": heads.BinaryClassHead(weight_column="w", thresholds=[0.3, 0.5, 0.7],
                                        extended_metrics=True),
        "multi_label": heads.MultiLabelHead(10, weight_column="w", thresholds=[0.5],
                                            extended_metrics=True),
        "multi_class": heads.MultiClassHead(10, weight_column="w", extended_metrics=True),
    }


def _statistics(kind, head, args, rng):
    """`args.batches` batches' segmented statistics of `head`."""
    width = 1 if kind == "binary" else 10
    n = args.batch
    out = []
    for _ in range(args.batches):
        z = rng.normal(size=(n, width)).astype(np.float32)
        if kind == "multi_class":
            y = rng.integers(0, width, (n, 1))
        else:
            y = (rng.random((n, width)) < 0.2).astype(np.int64)
            z += 1.5 * y
        w = rng.uniform(0.5, 2.0, (n, 1)).astype(np.float32)
        segment_ids = np.concatenate([np.zeros(n, np.int32),
                                      1 + rng.integers(0, args.slices, n).astype(np.int32)])
        out.append(head.segmented_statistics({"w": w}, z, y, segment_ids, 1 + args.slices,
                                             rows=np.tile(np.arange(n), 2)))
    return out


def absorb(args):
    rng = np.random.default_rng(0)
    n_segments = 1 + args.slices
    for kind, head in _absorb_heads().items():
        batches = _statistics(kind, head, args, rng)
        times = {"absorb": [], "read": [], "merge": [], "pickle": []}
        for _ in range(args.reps):
            dicts = [head.metrics() for _ in range(n_segments)]
            deferred = heads.segments.DeferredSums()
            start = time.perf_counter()
            for stats in batches:
                head.absorb_statistics(dicts, stats, deferred)
            deferred.apply()
            absorbed = time.perf_counter()
            for metrics in dicts:
                for metric in metrics.values():
                    metric.result()
            read = time.perf_counter()
            copies = pickle.loads(pickle.dumps(dicts))
            start_merge = time.perf_counter()
            merged = {}
            for metrics in copies[1:]:
                heads.metrics.merge_metric_dicts(merged, metrics)
            for metric in merged.values():
                metric.result()
            merged_at = time.perf_counter()
            pickle.loads(pickle.dumps(dicts))
            pickled = time.perf_counter()
            times["absorb"].append(absorbed - start)
            times["read"].append(read - absorbed)
            times["merge"].append(merged_at - start_merge)
            times["pickle"].append(pickled - merged_at)
        print("%-12s " % kind + "  ".join("%s %.1f ms" % (name, 1e3 * statistics.median(t))
                                          for name, t in times.items()), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=None,
                        help="examples per batch (default 65536; 8192 with --absorb)")
    parser.add_argument("--absorb", action="store_true")
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if args.absorb:
        args.batch = args.batch or 8192
        absorb(args)
    else:
        args.batch = args.batch or 65536
        accuracy(args)


if __name__ == "__main__":
    main()
