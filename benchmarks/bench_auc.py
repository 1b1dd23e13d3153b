"""AUC accuracy and state size of the fixed-size AUC state against exact AUC.

Generates sigmoid(normal logits) scores with 10% positives in three regimes
(typical, rare events near 1e-4, near-certain near 1 - 1e-4), runs them
through BinaryClassHead in batches, and compares `auc` with
sklearn.metrics.roc_auc_score and `auc_precision_recall` with the same
interpolated-PR formula evaluated at every distinct score (AUC with
exact_limit=None), both on the float32 probabilities the head scores with
(our definition; `roc64` is sklearn on float64 probabilities, for reference:
near 1 float32 ties many scores).

    python benchmarks/bench_auc.py --n 1000000
"""
import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

import heads

REGIMES = {
    "typical": (-1.0, 0.5, 1.0),      # negative mean, positive mean, std (logits)
    "rare": (-9.2, -8.7, 0.5),        # probabilities around 1e-4
    "near_certain": (9.2, 9.7, 0.5),  # probabilities around 1 - 1e-4
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=65536)
    args = parser.parse_args()
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
        exact = heads.metrics.AUC("exact_pr", curve="PR", exact_limit=None)
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

if __name__ == "__main__":
    main()
