"""Build the demo data: scikit-learn's handwritten digits, scored by quick models.

    python scripts/make_demo_data.py            # rewrites pipeline/data/demo.tfrecord.gz

scikit-learn is a test-only dependency, so the output is committed and the
demo (`headeval demo`) never imports it. The script is deterministic
(fixed split and seeds): re-running it gives the same records.

Data: `sklearn.datasets.load_digits` — 1,797 8x8 grey-level images of the
digits 0-9 (UCI "Optical Recognition of Handwritten Digits", pixel values
0-16), shipped inside the scikit-learn wheel. A stratified split keeps 2/3
(1,198 images) to fit the models and writes the other 1/3 (599 images) as
the evaluation set, one `tf.train.Example` per test image:

  digit              string      the true digit as a word: 'zero' .. 'nine'
  digit_logits       float[10]   multinomial LogisticRegression
                                 `decision_function` (multi_class head)
  properties         string[*]   tags of the true digit, var-length, from
                                 even (0 2 4 6 8), prime (2 3 5 7),
                                 large (>= 5), loop (0 6 8 9: a closed loop)
  properties_logits  float[4]    one LogisticRegression per tag, in the order
                                 [even, prime, large, loop] (multi_label head)
  ink                float       mean pixel intensity / 16, in [0, 1]
                                 (regression target)
  ink_prediction     float[1]    Ridge regression on a 4x4 subsample of the
                                 pixels (every other row and column), so it
                                 is good but not exact
  weight             float       2.0 for the digits 1 and 7, else 1.0: in a
                                 postal-code reader 1/7 confusions are the
                                 costly ones, so the demo counts them double
                                 (and shows example_count !=
                                 weighted_example_count)
  stroke             string      'thick' when ink >= the median ink of the
                                 training split, else 'thin' (slice feature)
  digit_logits_baseline       float[10]  the baseline (`baseline:` in the
  properties_logits_baseline  float[4]   demo config): the same kinds of
  ink_prediction_baseline     float[1]   model, fitted on the thin-stroke
                                 training images only (an older model that
                                 never saw thick strokes; the ink Ridge on
                                 the other 4x4 subsample), so the candidate
                                 is better overall and on thick strokes, the
                                 baseline better on thin ones (weighted digit
                                 accuracy 0.947 vs 0.935 overall, 0.947 vs
                                 0.954 on thin strokes)
  index              int64       the image's row in load_digits()
"""
import argparse
import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pipeline.io.writer import write_examples  # noqa: E402

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PROPERTIES = ("even", "prime", "large", "loop")
PROPERTY_DIGITS = {
    "even": {0, 2, 4, 6, 8},
    "prime": {2, 3, 5, 7},
    "large": {5, 6, 7, 8, 9},
    "loop": {0, 6, 8, 9},
}
HEAVY_DIGITS = (1, 7)
HEAVY_WEIGHT = 2.0
SEED = 0
BASELINE_C = 0.12  # the baseline's regularisation (see the module docstring)
DEFAULT_OUTPUT = os.path.join(ROOT, "pipeline", "data", "demo.tfrecord.gz")


def property_matrix(digits):
    """[n, 4] multi-hot of the PROPERTIES of each digit."""
    return np.stack([np.isin(digits, sorted(PROPERTY_DIGITS[p])) for p in PROPERTIES], axis=1)


def build(seed=SEED):
    """The demo columns (name -> array or list of lists) and a summary dict."""
    data = load_digits()
    x = data.data / 16.0                      # [1797, 64] in [0, 1]
    y = data.target.astype(np.int64)          # [1797]
    index = np.arange(len(y))
    x_tr, x_te, y_tr, y_te, _, i_te = train_test_split(
        x, y, index, test_size=1 / 3, random_state=seed, stratify=y)

    # Multi-class: multinomial logistic regression (lbfgs's default for
    # several classes), lightly regularised so a few digits are missed.
    digit_model = LogisticRegression(C=0.05, max_iter=2000)
    digit_model.fit(x_tr, y_tr)
    digit_logits = digit_model.decision_function(x_te).astype(np.float32)

    # Multi-label: one binary logistic regression per property.
    props_tr, props_te = property_matrix(y_tr), property_matrix(y_te)
    prop_logits = np.stack([
        LogisticRegression(C=0.05, max_iter=2000).fit(x_tr, props_tr[:, j]).decision_function(x_te)
        for j in range(len(PROPERTIES))], axis=1).astype(np.float32)

    # Regression: ink from a 4x4 subsample of the 8x8 pixels.
    ink_tr, ink_te = x_tr.mean(axis=1), x_te.mean(axis=1)
    sub = np.zeros((8, 8), bool)
    sub[::2, ::2] = True
    sub = sub.ravel()
    ridge = Ridge(alpha=1.0).fit(x_tr[:, sub], ink_tr)
    ink_prediction = ridge.predict(x_te[:, sub]).astype(np.float32)[:, None]

    median_ink = float(np.median(ink_tr))
    stroke = np.where(ink_te >= median_ink, "thick", "thin")

    # The baseline: the same kinds of model fitted on thin strokes only.
    thin = ink_tr < median_ink
    base_digit = LogisticRegression(C=BASELINE_C, max_iter=3000).fit(x_tr[thin], y_tr[thin])
    base_digit_logits = base_digit.decision_function(x_te).astype(np.float32)
    base_prop_logits = np.stack([
        LogisticRegression(C=BASELINE_C, max_iter=3000).fit(x_tr[thin], props_tr[thin, j])
        .decision_function(x_te) for j in range(len(PROPERTIES))], axis=1).astype(np.float32)
    other = np.zeros((8, 8), bool)
    other[1::2, 1::2] = True
    other = other.ravel()
    base_ridge = Ridge(alpha=1.0).fit(x_tr[thin][:, other], ink_tr[thin])
    base_ink = base_ridge.predict(x_te[:, other]).astype(np.float32)[:, None]
    weight = np.where(np.isin(y_te, HEAVY_DIGITS), HEAVY_WEIGHT, 1.0).astype(np.float32)

    columns = {
        "digit": np.array([DIGIT_NAMES[d] for d in y_te]),
        "digit_logits": digit_logits,
        "properties": [[PROPERTIES[j] for j in np.flatnonzero(row)] for row in props_te],
        "properties_logits": prop_logits,
        "ink": ink_te.astype(np.float32),
        "ink_prediction": ink_prediction,
        "weight": weight,
        "stroke": stroke,
        "index": i_te.astype(np.int64),
        "digit_logits_baseline": base_digit_logits,
        "properties_logits_baseline": base_prop_logits,
        "ink_prediction_baseline": base_ink,
    }
    summary = {
        "examples": len(y_te),
        "digit_accuracy": float((digit_logits.argmax(1) == y_te).mean()),
        "baseline_digit_accuracy": float((base_digit_logits.argmax(1) == y_te).mean()),
        "properties_accuracy@0.5": float(((prop_logits > 0) == props_te).mean()),
        "ink_rmse": float(np.sqrt(np.mean((ink_prediction[:, 0] - ink_te) ** 2))),
        "median_train_ink": median_ink,
        "thick": int((stroke == "thick").sum()),
        "weighted_examples": float(weight.sum()),
    }
    return columns, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=DEFAULT_OUTPUT,
                        help="TFRecord file to write (default: %(default)s)")
    args = parser.parse_args(argv)
    columns, summary = build()
    n = write_examples(args.output, columns, compression="GZIP")
    print("wrote %d examples to %s (%d bytes)" % (n, args.output, os.path.getsize(args.output)))
    for k, v in summary.items():
        print("  %-24s %s" % (k, v))


if __name__ == "__main__":
    main()
