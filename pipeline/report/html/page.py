"""`headeval report`: a report folder as one self-contained HTML file.

    write_report("out/report")              # -> out/report/report.html
    html_text = render_report("gs://b/report")

The page has, per head: a summary card of the key metrics (overall slice),
ROC and PR curves (the pooled curve where the head has one, and one per
class) and a calibration plot (mean prediction against mean label per
probability bucket) for classification heads, the confusion matrix of a
multi-class head, the per-class and per-threshold tables, and a slice table
that highlights slices significantly worse than the rest of the data; then
the run facts from run.json. It reads the report only through
`pipeline.report.load` (Beam FileSystems), so a report on
gs:// renders as a local one does, and writes the page the same way.

Plotting: hand-written inline SVG, generated here in Python.

* No dependency and no network: matplotlib is not a headeval dependency (it
  would add a large install, a font cache and ~1 s of import to a command
  that otherwise starts at once), and an inlined JS chart library would put
  a few hundred KB of third-party code, with its licence, into every report
  and draw nothing where scripts are off (mail attachments, some viewers).
* The charts are the data: each curve is a `<polyline>` with one vertex per
  row of curves.parquet, in the same order, and the exact values travel in a
  JSON block (`<script type="application/json" id="headeval-data">`), so
  tests read both back and compare them with the Parquet files.
* Static first: the page is complete without JavaScript (it prints, and
  shows in viewers that block scripts). A small inline script only adds a
  hover readout (nearest point: class, threshold, the two rates), legend
  hover/click to single out or hide a class, and sets
  `data-headeval-charts` on `<html>` to the number of charts it wired (the
  browser test waits for it).

Curves are those of the overall slice; the slice table compares slices.

Significantly worse slices: a one-sided two-proportion z-test on the head's
accuracy (`accuracy`; for multi-label heads `accuracy/positive_threshold_X`
at 0.5, else at the threshold nearest 0.5), comparing each slice with the
rest of the data (overall minus the slice, so the two groups are disjoint):

    p_rest = (acc * W - acc_s * W_s) / (W - W_s)        (W: weighted example counts)
    z = (acc_s - p_rest) / sqrt(acc * (1 - acc) * (1/n_s + 1/(n - n_s)))
    p = Phi(z)                                          (normal approximation)

with `n` the example counts and the overall accuracy as the pooled
proportion. A slice is flagged when p < 0.05 / m (Bonferroni over the m
slices of the head that could be tested). The normal approximation needs
about five successes and five failures in each group: slices with fewer are
marked "too few" and not tested. Caveats, also printed under the table:
weighted accuracies are compared with unweighted counts (no effective sample
size is in the report), and a multi-label head's accuracy averages over
classes while n counts examples (conservative: it under-counts the
decisions). Regression heads get no test (the report has no variance of the
loss).
"""
import html
import json
import math
from datetime import datetime, timezone

from pipeline.io.files import join
from pipeline.report import tables  # row order, kinds and pivots, shared with `show`
from pipeline.report.load import load_report

REPORT_FILE = "report.html"
DATA_ELEMENT_ID = "headeval-data"
CHARTS_ATTRIBUTE = "data-headeval-charts"
ERROR_ATTRIBUTE = "data-headeval-error"
# Tableau 10: distinguishable, and readable by most colour-blind people.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
POOLED_COLOR = "#1f1f1f"
MAX_CLASS_CURVES = 20
ALPHA = 0.05
MIN_EXPECTED = 5.0
SUMMARY_KEYS = ("accuracy", "auc", "auc_precision_recall", "precision", "recall", "f1",
                "average_loss", "root_mean_squared_error", "mean_absolute_error", "r_squared",
                "label/mean", "prediction/mean", "accuracy_baseline", "loss")
CURVE_AXES = {"roc": ("fpr", "recall", "false positive rate", "true positive rate (recall)"),
              "pr": ("recall", "precision", "recall", "precision")}
CURVE_AUC = {"roc": "auc", "pr": "auc_precision_recall"}

# The chart frame, in SVG user units (the SVG scales to its column).
WIDTH, HEIGHT = 380, 330
LEFT, TOP, RIGHT, BOTTOM = 52, 14, 16, 46
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def render_report(folder):
    """The HTML page (a str) for the report in `folder`."""
    return render(load_report(folder))


def write_report(folder, out=None):
    """Renders the report in `folder` to `out` (default: report.html in the
    folder; any Beam filesystem). Returns the path written."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    out = out or join(folder, REPORT_FILE)
    page = render_report(folder).encode("utf-8")
    with FileSystems.create(out, mime_type="text/html",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(page)
    return out


# -- numbers and markup ---------------------------------------------------------

def _e(text):
    return html.escape(str(text), quote=True)


def _missing(value):
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _fmt(value, digits=4):
    if _missing(value):
        return "–"
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return "{:,}".format(int(value))
    return "%.*g" % (digits, value)


def _fmt_count(value):
    return "–" if _missing(value) else "{:,.0f}".format(value) if float(value).is_integer() \
        else "{:,.1f}".format(value)


def _num(value):
    """A float for JSON: non-finite -> None (JSON has no NaN)."""
    return None if _missing(value) else float(value)


def _json_for_script(data):
    """JSON safe inside <script>: no '</' can close the element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _px(value):
    return ("%.2f" % value).rstrip("0").rstrip(".")


def _sx(x):
    return LEFT + PLOT_W * min(max(x, 0.0), 1.0)


def _sy(y):
    return TOP + PLOT_H * (1.0 - min(max(y, 0.0), 1.0))


# -- what the report holds ------------------------------------------------------

def head_configs(run):
    """{report head name: its config entry} from run.json."""
    heads = ((run or {}).get("config") or {}).get("heads") or []
    out = {}
    for h in heads:
        if len(heads) == 1:
            out[""] = h
        if h.get("name"):
            out[h["name"]] = h
    return out


def head_type(head, rows, run):
    """binary | multi_class | multi_label | regression: from run.json, else
    guessed from the metrics."""
    config = head_configs(run).get(head)
    if config and config.get("type"):
        return config["type"]
    metrics = {r["metric"] for r in rows}
    if "confusion_matrix" in metrics:
        return "multi_class"
    if "auc" not in metrics and "accuracy" not in metrics:
        return "regression"
    if any(r["class"] is not None for r in rows if r["metric"] == "auc"):
        return "multi_label"
    return "binary"


def _aggregate(rows, key):
    for r in rows:
        if r["key"] == key and r["class"] is None and r["threshold"] is None:
            return r
    return None


def _at_middle_threshold(rows, metric):
    """The aggregate row of `metric` at threshold 0.5, else the nearest one."""
    candidates = [r for r in rows if r["metric"] == metric and r["class"] is None
                  and r["threshold"] is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (abs(r["threshold"] - 0.5), r["threshold"]))


def summary_rows(rows):
    """[(label, row)]: the key metrics of one slice, SUMMARY_KEYS order;
    a metric reported only per threshold is taken at 0.5 (or the nearest)."""
    out = []
    for key in SUMMARY_KEYS:
        row = _aggregate(rows, key)
        label = key
        if row is None:
            row = _at_middle_threshold(rows, key)
            if row is not None:
                label = "%s @ %g" % (key, row["threshold"])
        if row is not None:
            out.append((label, row))
    return out


def test_row(rows):
    """The accuracy row the slice test uses (see the module docstring), or None."""
    return _aggregate(rows, "accuracy") or _at_middle_threshold(rows, "accuracy")


def _phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def worse_than_rest(p_slice, n_slice, w_slice, p_all, n_all, w_all, min_expected=MIN_EXPECTED):
    """One-sided two-proportion z-test: is the slice's proportion lower than
    that of the rest of the data? p_*: proportions (weighted accuracies),
    n_*: example counts, w_*: weighted example counts; the slice is part of
    the whole. Returns {'rest', 'diff', 'z', 'p'} or None when the test does
    not apply (no rest, a degenerate proportion, fewer than `min_expected`
    expected successes or failures in a group)."""
    values = (p_slice, n_slice, w_slice, p_all, n_all, w_all)
    if any(_missing(v) for v in values):
        return None
    n_rest, w_rest = n_all - n_slice, w_all - w_slice
    if n_slice <= 0 or n_rest <= 0 or w_slice <= 0 or w_rest <= 0:
        return None
    p_rest = (p_all * w_all - p_slice * w_slice) / w_rest
    pooled = p_all
    for n in (n_slice, n_rest):
        if n * pooled < min_expected or n * (1.0 - pooled) < min_expected:
            return None
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_slice + 1.0 / n_rest))
    if se == 0:
        return None
    z = (p_slice - p_rest) / se
    return {"rest": p_rest, "diff": p_slice - p_rest, "z": z, "p": _phi(z)}


def slice_tests(head_rows, slice_order, counts, head):
    """{slice: test result or None} for every slice but the overall one, plus
    the Bonferroni level: (results, alpha / m, test key or None)."""
    overall = [r for r in head_rows if r["slice"] == ""]
    base = test_row(overall)
    results = {}
    if base is None:
        return results, None, None
    all_counts = counts.get((head, ""), {})
    tested = {r["slice"]: r for r in head_rows
              if r["key"] == base["key"] and r["class"] is None}
    for s in slice_order:
        if s == "":
            continue
        row = tested.get(s)
        c = counts.get((head, s), {})
        results[s] = None if row is None else worse_than_rest(
            row["value"], c.get("example_count"), c.get("weighted_example_count"),
            base["value"], all_counts.get("example_count"),
            all_counts.get("weighted_example_count"))
    m = sum(1 for r in results.values() if r is not None)
    return results, (ALPHA / m if m else None), base["key"]


def curve_groups(curves, head, slice_=""):
    """[(class or None, kind, [row indices])] of one head and slice, in file
    order (the pooled curve first, then classes as they come)."""
    if not curves:
        return []
    groups = {}
    heads, slices, classes, kinds = (curves["head"], curves["slice"], curves["class"],
                                     curves["curve"])
    for i in range(len(heads)):
        if heads[i] == head and slices[i] == slice_:
            groups.setdefault((classes[i], kinds[i]), []).append(i)
    return [(k[0], k[1], v) for k, v in groups.items()]


# -- SVG -------------------------------------------------------------------------

def _frame(x_label, y_label, diagonal=None):
    """Axes, grid, ticks and labels of a [0, 1] x [0, 1] chart."""
    parts = ['<rect class="plot-bg" x="%d" y="%d" width="%d" height="%d"/>'
             % (LEFT, TOP, PLOT_W, PLOT_H)]
    for i in range(6):
        v = i / 5.0
        x, y = _px(_sx(v)), _px(_sy(v))
        parts.append('<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>'
                     % (x, TOP, x, TOP + PLOT_H))
        parts.append('<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s"/>'
                     % (LEFT, y, LEFT + PLOT_W, y))
        parts.append('<text class="tick" x="%s" y="%d" text-anchor="middle">%g</text>'
                     % (x, TOP + PLOT_H + 15, v))
        parts.append('<text class="tick" x="%d" y="%s" text-anchor="end" '
                     'dominant-baseline="middle">%g</text>' % (LEFT - 6, y, v))
    if diagonal == "up":
        parts.append('<line class="reference" x1="%s" y1="%s" x2="%s" y2="%s"/>'
                     % (_px(_sx(0)), _px(_sy(0)), _px(_sx(1)), _px(_sy(1))))
    parts.append('<rect class="axes" x="%d" y="%d" width="%d" height="%d"/>'
                 % (LEFT, TOP, PLOT_W, PLOT_H))
    parts.append('<text class="axis-label" x="%s" y="%d" text-anchor="middle">%s</text>'
                 % (_px(LEFT + PLOT_W / 2.0), HEIGHT - 8, _e(x_label)))
    parts.append('<text class="axis-label" transform="translate(14 %s) rotate(-90)" '
                 'text-anchor="middle">%s</text>' % (_px(TOP + PLOT_H / 2.0), _e(y_label)))
    return parts


def _svg(kind, series_ids, body, label):
    return ('<svg class="chart" data-kind="%s" data-plot="%d %d %d %d" data-series="%s" '
            'viewBox="0 0 %d %d" role="img" aria-label="%s">%s'
            '<circle class="dot" r="4" cx="-10" cy="-10"/></svg>'
            % (kind, LEFT, TOP, PLOT_W, PLOT_H, " ".join(series_ids), WIDTH, HEIGHT,
               _e(label), "".join(body)))


def _polyline(series_id, color, xs, ys, width):
    points = " ".join("%s,%s" % (_px(_sx(x)), _px(_sy(y)))
                      for x, y in zip(xs, ys) if not (_missing(x) or _missing(y)))
    return ('<polyline class="curve" data-series="%s" stroke="%s" stroke-width="%s" '
            'points="%s"/>' % (series_id, color, width, points))


# -- the page ---------------------------------------------------------------------

class _Page:
    """Collects the HTML and the embedded data while a report renders."""

    def __init__(self):
        self.data = {"version": 1, "curves": [], "calibration": []}
        self.n_series = 0

    def series_id(self, prefix):
        self.n_series += 1
        return "%s%d" % (prefix, self.n_series)


def _class_label(name, head_type_):
    if name is not None:
        return str(name)
    return "all classes (pooled)" if head_type_ == "multi_label" else "overall"


def _curve_figure(page, head, kind, groups, curves, overall_rows, head_type_, vocabulary):
    x_col, y_col, x_label, y_label = CURVE_AXES[kind]
    mine = [g for g in groups if g[1] == kind]
    sort_class = tables.class_sorter(vocabulary)
    pooled = [g for g in mine if g[0] is None]
    per_class = sorted((g for g in mine if g[0] is not None), key=lambda g: sort_class(g[0]))
    note = ""
    if len(per_class) > MAX_CLASS_CURVES:
        note = ('<p class="note">%d of %d classes shown (the first in class order).</p>'
                % (MAX_CLASS_CURVES, len(per_class)))
        per_class = per_class[:MAX_CLASS_CURVES]
    body = _frame(x_label, y_label, diagonal="up" if kind == "roc" else None)
    legend, ids = [], []
    auc_key = CURVE_AUC[kind]
    for n, (class_name, _, index) in enumerate(pooled + per_class):
        is_pooled = class_name is None
        color = POOLED_COLOR if is_pooled else PALETTE[(n - len(pooled)) % len(PALETTE)]
        sid = page.series_id("c")
        ids.append(sid)
        xs = [curves[x_col][i] for i in index]
        ys = [curves[y_col][i] for i in index]
        label = _class_label(class_name, head_type_)
        page.data["curves"].append({
            "id": sid, "head": head, "slice": "", "class": class_name, "curve": kind,
            "label": label, "x_column": x_col, "y_column": y_col,
            "threshold": [_num(curves["threshold"][i]) for i in index],
            "x": [_num(v) for v in xs], "y": [_num(v) for v in ys]})
        body.append(_polyline(sid, color, xs, ys, 2.6 if is_pooled else 1.6))
        key = auc_key if is_pooled else "%s/%s" % (auc_key, class_name)
        auc = next((r["value"] for r in overall_rows if r["key"] == key), None)
        legend.append('<li data-series="%s"><span class="swatch" style="background:%s"></span>'
                      '%s<span class="legend-value">%s</span></li>'
                      % (sid, color, _e(label), "" if auc is None else
                         "%s %s" % ("AUC" if kind == "roc" else "AUC-PR", _fmt(auc))))
    title = "ROC curve" if kind == "roc" else "Precision–recall curve"
    hint = ("Up and to the left is better; the diagonal is chance." if kind == "roc" else
            "Up and to the right is better; look for where precision falls off.")
    return ('<figure class="chart-box" data-head="%s" data-chart="%s"><figcaption>%s'
            '<span class="hint">%s</span></figcaption>%s<ul class="legend">%s</ul>%s</figure>'
            % (_e(head), kind, title, hint, _svg(kind, ids, body, "%s of head %s"
                                               % (title, head or "(unnamed)")),
               "".join(legend), note))


def _calibration_figure(page, head, calibration_rows, pooled_classes=False):
    _, columns, cells = tables.pivot(calibration_rows, lambda r: r["threshold"],
                                     lambda r: r["metric"][len(tables.CALIBRATION_PREFIX):],
                                     row_sort=float)
    edges = sorted({r["threshold"] for r in calibration_rows})
    width = min((b - a for a, b in zip(edges, edges[1:])), default=1.0)

    def value(edge, name):
        row = cells.get((edge, name))
        return None if row is None else row["value"]
    weights = [value(e, "weight") or 0.0 for e in edges]
    top = max(weights) if weights else 0.0
    body = _frame("mean predicted probability", "observed frequency (mean label)", "up")
    for edge, w in zip(edges, weights):  # the weight per bucket, as a histogram at the bottom
        if w > 0 and top > 0:
            h = 0.25 * PLOT_H * w / top
            body.append('<rect class="weight-bar" x="%s" y="%s" width="%s" height="%s"/>'
                        % (_px(_sx(edge) + 0.5), _px(TOP + PLOT_H - h),
                           _px(max(PLOT_W * width - 1.0, 0.5)), _px(h)))
    sid = page.series_id("k")
    kept = [(e, value(e, "prediction_mean"), value(e, "label_mean"), w)
            for e, w in zip(edges, weights)]
    kept = [k for k in kept if k[3] > 0 and not (_missing(k[1]) or _missing(k[2]))]
    page.data["calibration"].append({
        "id": sid, "head": head, "slice": "", "label": "calibration",
        "bucket": [e for e, _, _, _ in kept], "bucket_width": width,
        "x": [_num(x) for _, x, _, _ in kept], "y": [_num(y) for _, _, y, _ in kept],
        "weight": [_num(w) for _, _, _, w in kept]})
    body.append(_polyline(sid, PALETTE[0], [k[1] for k in kept], [k[2] for k in kept], 1.4))
    for e, x, y, w in kept:
        r = 2.0 + 5.0 * math.sqrt(w / top) if top > 0 else 3.0
        body.append('<circle class="bucket" data-series="%s" cx="%s" cy="%s" r="%s"/>'
                    % (sid, _px(_sx(x)), _px(_sy(y)), _px(r)))
    total = sum(weights)
    return ('<figure class="chart-box" data-head="%s" data-chart="calibration"><figcaption>'
            'Calibration<span class="hint">On the diagonal, a predicted probability p comes '
            'true a fraction p of the time. Points: %d buckets of width %g (area ∝ weight); '
            'bars: weight per bucket (total %s%s).</span></figcaption>%s'
            '</figure>'
            % (_e(head), len(kept), width, _fmt_count(total),
               ", pooled over the classes" if pooled_classes else "",
               _svg("calibration", [sid], body, "Calibration of head %s" % (head or "(unnamed)"))))


def _confusion_table(rows, vocabulary):
    labels, predicted, cells = tables.pivot(
        rows, lambda r: r["class"], tables.predicted_class,
        row_sort=tables.class_sorter(vocabulary), column_sort=tables.class_sorter(vocabulary))
    out = ['<div class="scroll"><table class="confusion"><thead><tr><th class="corner">'
           'label ↓ · predicted →</th>']
    out += ['<th>%s</th>' % _e(p) for p in predicted]
    out.append('<th class="total">total</th></tr></thead><tbody>')
    for label in labels:
        values = [cells[(label, p)]["value"] if (label, p) in cells else None for p in predicted]
        total = sum(v for v in values if not _missing(v))
        out.append('<tr><th>%s</th>' % _e(label))
        for p, v in zip(predicted, values):
            share = (v / total) if total and not _missing(v) else 0.0
            cls = "diag" if p == label else "off"
            out.append('<td class="%s" style="--share:%.3f" title="label %s, predicted %s: %s '
                       '(%.1f%% of the label)">%s</td>'
                       % (cls, share, _e(label), _e(p), _fmt(v), 100 * share, _fmt(v)))
        out.append('<td class="total">%s</td></tr>' % _fmt(total))
    out.append('</tbody></table></div>')
    return "".join(out)


def _pivot_tables(overall_rows, vocabulary):
    """The per-threshold, per-class and per-class-and-threshold tables."""
    keep = [r for r in overall_rows
            if tables.row_kind(r) in ("threshold", "class", "class_threshold")]
    out = []
    for kind, title, header, body in tables.slice_tables(keep, vocabulary):
        n_text = 2 if kind == "class_threshold" else 1
        out.append('<details class="pivot" %s><summary>%s</summary><div class="scroll">'
                   '<table class="metrics"><thead><tr>%s</tr></thead><tbody>'
                   % ("open" if kind != "class_threshold" else "", _e(title.capitalize()),
                      "".join('<th>%s</th>' % _e(h) for h in header)))
        for cells in body:
            out.append("<tr>%s%s</tr>" % (
                "".join('<th>%s</th>' % _e(c) for c in cells[:n_text]),
                "".join('<td>%s</td>' % ("" if c is None else _fmt(c["value"]))
                        for c in cells[n_text:])))
        out.append("</tbody></table></div></details>")
    return "".join(out)


def _all_metrics_table(overall_rows):
    scalars = [r for r in overall_rows if tables.row_kind(r) in ("scalar", "count")]
    if not scalars:
        return ""
    body = "".join('<tr><th>%s</th><td>%s</td></tr>' % (_e(r["key"]), _fmt(r["value"], 6))
                   for r in scalars)
    return ('<details class="pivot"><summary>All overall metrics</summary><table '
            'class="metrics"><tbody>%s</tbody></table></details>' % body)


def _summary_card(overall_rows, c, type_, vocabulary):
    """The key metrics of the overall slice; `c`: its counts (slice_counts)."""
    tiles = []
    n, w = c.get("example_count"), c.get("weighted_example_count")
    tiles.append(('examples', _fmt_count(n)))
    if w is not None and w != n:
        tiles.append(('weighted examples', _fmt_count(w)))
    for label, row in summary_rows(overall_rows):
        tiles.append((label, _fmt(row["value"])))
    facts = type_.replace("_", "-")
    if vocabulary:
        facts += " · %d classes" % len(vocabulary)
    return ('<div class="card"><div class="card-title">Overall · %s</div><dl class="tiles">%s'
            '</dl></div>' % (_e(facts), "".join(
                '<div class="tile" data-metric="%s"><dt>%s</dt><dd>%s</dd></div>'
                % (_e(k), _e(k), _e(v)) for k, v in tiles)))


def _slice_table(head, head_rows, counts):
    slices = list(dict.fromkeys(r["slice"] for r in tables.order_rows(head_rows, counts)))
    results, level, key = slice_tests(head_rows, slices, counts, head)
    overall = [r for r in head_rows if r["slice"] == ""]
    metric_keys = [label for label, _ in summary_rows(overall)
                   if _aggregate(overall, label) is not None and label != key][:4]
    header = ["slice", "examples", "weighted"]
    if key:
        base = test_row(overall)
        header += [key if base["threshold"] is None else "%s @ %g" % (base["metric"],
                                                                       base["threshold"]),
                   "rest", "Δ vs rest", "z", "p", ""]
    header += metric_keys
    out = ['<div class="scroll"><table class="slices"><thead><tr>%s</tr></thead><tbody>'
           % "".join('<th>%s</th>' % _e(h) for h in header)]
    n_worse = 0
    by_slice = {}
    for r in head_rows:
        by_slice.setdefault(r["slice"], []).append(r)
    for s in slices:
        rows = by_slice[s]
        c = counts.get((head, s), {})
        result = results.get(s)
        worse = (result is not None and level is not None and result["p"] < level
                 and result["diff"] < 0)
        n_worse += worse
        cls = "overall" if s == "" else ("worse" if worse else "")
        cells = ['<th>%s</th>' % _e(s or "(overall)"),
                 '<td>%s</td>' % _fmt_count(c.get("example_count")),
                 '<td>%s</td>' % _fmt_count(c.get("weighted_example_count"))]
        if key:
            acc = _aggregate(rows, key) or next((r for r in rows if r["key"] == key), None)
            cells.append('<td>%s</td>' % ("–" if acc is None else _fmt(acc["value"])))
            if s == "":
                cells += ['<td></td>'] * 5
            elif result is None:
                cells += ['<td></td>'] * 4 + ['<td class="verdict">too few to test</td>']
            else:
                cells += ['<td>%s</td>' % _fmt(result["rest"]),
                          '<td>%+.3g</td>' % result["diff"],
                          '<td>%.2f</td>' % result["z"],
                          '<td>%.2g</td>' % result["p"],
                          '<td class="verdict">%s</td>' % ("significantly worse" if worse
                                                           else "")]
        for k in metric_keys:
            r = _aggregate(rows, k)
            cells.append('<td>%s</td>' % ("–" if r is None else _fmt(r["value"])))
        out.append('<tr class="%s" data-slice="%s">%s</tr>' % (cls, _e(s), "".join(cells)))
    out.append("</tbody></table></div>")
    if key and level is not None:
        out.append(
            '<p class="method">%s. Test: one-sided two-proportion z-test of each slice\'s '
            '<code>%s</code> against the rest of the data (overall minus the slice), normal '
            'approximation, pooled proportion = the overall value; flagged when p &lt; '
            '0.05 / %d = %.3g (Bonferroni over the slices tested). Needs %g+ expected '
            'successes and failures per group. Weighted accuracies are compared with '
            'unweighted example counts%s.</p>'
            % ("%d slice%s significantly worse than the rest" % (n_worse, "" if n_worse == 1
                                                                  else "s")
               if n_worse else "No slice is significantly worse than the rest",
               _e(key), round(ALPHA / level), level, MIN_EXPECTED,
               "; a multi-label accuracy averages over classes while n counts examples "
               "(conservative)" if "positive_threshold" in key else ""))
    elif key:
        out.append('<p class="method">No slice has enough examples for the z-test on '
                   '<code>%s</code>.</p>' % _e(key))
    elif len(slices) > 1:
        out.append('<p class="method">No significance test for this head (it reports no '
                   'accuracy).</p>')
    return "".join(out)


def _head_section(page, report, index, head, head_rows, counts):
    type_ = head_type(head, head_rows, report.run)
    vocabulary = tables.class_orders(report.run).get(head)
    overall = [r for r in head_rows if r["slice"] == ""]
    parts = ['<section class="head" id="head-%d" data-head="%s" data-type="%s">'
             '<h2>%s <span class="type">%s</span></h2>'
             % (index, _e(head), _e(type_), _e(head or "(unnamed head)"), _e(type_)),
             _summary_card(overall, counts.get((head, ""), {}), type_, vocabulary)]
    charts = []
    groups = curve_groups(report.curves, head)
    if groups:
        for kind in ("roc", "pr"):
            if any(g[1] == kind for g in groups):
                charts.append(_curve_figure(page, head, kind, groups, report.curves, overall,
                                            type_, vocabulary))
    calibration = [r for r in overall if tables.row_kind(r) == "calibration"]
    if calibration:
        charts.append(_calibration_figure(page, head, calibration,
                                          pooled_classes=type_ == "multi_label"))
    if charts:
        parts.append('<div class="charts">%s</div>' % "".join(charts))
    confusion = [r for r in overall if tables.row_kind(r) == "confusion"]
    if confusion:
        parts.append('<h3>Confusion matrix <span class="hint">overall slice, weighted; '
                     'colour: share of the label\'s row</span></h3>')
        parts.append(_confusion_table(confusion, vocabulary))
    pivots = _pivot_tables(overall, vocabulary)
    if pivots:
        parts.append('<h3>Per class and per threshold <span class="hint">overall slice'
                     '</span></h3>' + pivots)
    parts.append(_all_metrics_table(overall))
    parts.append('<h3>Slices <span class="hint">overall first, then by example count'
                 '</span></h3>')
    parts.append(_slice_table(head, head_rows, counts))
    parts.append("</section>")
    return "".join(parts)


def _run_section(run):
    if run is None:
        return ('<section class="run" id="run"><h2>Run</h2><p class="warning">run.json is '
                'missing: this report may be incomplete (run.json is written last).</p>'
                '</section>')
    counts = run.get("counts") or {}
    wall = run.get("wall_seconds")
    read = counts.get("read")
    facts = [("runner", run.get("runner")), ("config file", run.get("config_file")),
             ("output", run.get("output")),
             ("started", _when(run["started"]) if run.get("started") else None),
             ("finished", _when(run["finished"]) if run.get("finished") else None),
             ("wall time", None if _missing(wall) else "%.1f s" % wall),
             ("records read", _fmt_count(read)),
             ("examples evaluated", _fmt_count(counts.get("evaluated"))),
             ("examples rejected", _fmt_count(counts.get("rejected")))]
    if read and wall and not _missing(wall) and wall > 0:
        facts.append(("throughput", "{:,.0f} records/s (whole run)".format(read / wall)))
    for kind, n in sorted((counts.get("rejected_by_kind") or {}).items()):
        facts.append(("rejected: %s" % kind, _fmt_count(n)))
    config = run.get("config") or {}
    if config.get("slices") is not None:
        facts.append(("slices", "; ".join(", ".join(s) or "(overall)" for s in config["slices"])))
    if config.get("input", {}).get("pattern"):
        facts.append(("input", config["input"]["pattern"]))
    if run.get("beam_options"):
        facts.append(("Beam options", " ".join(run["beam_options"])))
    versions = run.get("versions") or {}
    facts.append(("versions", ", ".join("%s %s" % (k, v) for k, v in versions.items())))
    rows = "".join('<tr><th>%s</th><td>%s</td></tr>' % (_e(k), _e(v))
                   for k, v in facts if v not in (None, ""))
    warn = ""
    if counts.get("rejected"):
        warn = ('<p class="warning">%s records were rejected and are not in the metrics '
                '(see rejected/).</p>' % _fmt_count(counts["rejected"]))
    return ('<section class="run" id="run"><h2>Run</h2>%s<table class="facts"><tbody>%s'
            '</tbody></table><details><summary>Config (as run)</summary><pre>%s</pre>'
            '</details></section>'
            % (warn, rows, _e(json.dumps(config, indent=2))))


def _when(iso):
    """'2026-12-02T05:49:25.659235+00:00' -> '2026-12-02 05:49:25 UTC'."""
    try:
        stamp = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if stamp.tzinfo else "")


def render(report):
    """The HTML page of a loaded `Report` (a str)."""
    page = _Page()
    counts = tables.slice_counts(report.rows)
    rows = tables.order_rows(report.rows, counts, tables.head_order(report.run))
    heads = list(dict.fromkeys(r["head"] for r in rows))
    sections = [_head_section(page, report, i, h, [r for r in rows if r["head"] == h], counts)
                for i, h in enumerate(heads)]
    nav = "".join('<a href="#head-%d">%s</a>' % (i, _e(h or "(unnamed head)"))
                  for i, h in enumerate(heads)) + '<a href="#run">run</a>'
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    run = report.run or {}
    counts_run = run.get("counts") or {}
    subtitle = []
    if counts_run.get("read") is not None:
        subtitle.append("%s records" % _fmt_count(counts_run["read"]))
    if run.get("finished"):
        subtitle.append("run finished %s" % _when(run["finished"]))
    subtitle.append("page generated %s" % generated)
    warning = ""
    if report.curves is None:
        warning = '<p class="warning">curves.parquet is missing: no ROC or PR curves.</p>'
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="headeval">',
        '<title>headeval report · %s</title>' % _e(report.folder),
        '<style>%s</style></head><body>' % _CSS,
        '<header><h1>headeval report</h1><p class="folder">%s</p><p class="subtitle">%s</p>'
        '<nav>%s</nav></header>' % (_e(report.folder), _e(" · ".join(subtitle)), nav),
        '<main>', warning, "".join(sections), _run_section(report.run), '</main>',
        '<script type="application/json" id="%s">%s</script>'
        % (DATA_ELEMENT_ID, _json_for_script(page.data)),
        '<script>%s</script></body></html>\n' % _JS,
    ])


_CSS = """
:root{--ink:#1f2328;--muted:#5b636e;--line:#d8dde3;--bg:#fff;--panel:#f6f8fa;--accent:#4e79a7;
--bad:#c0392b;--badbg:#fde8e6}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--bg)}
header{padding:18px 28px 10px;border-bottom:1px solid var(--line);background:var(--panel)}
h1{margin:0;font-size:22px}h2{font-size:19px;margin:0 0 12px}
h3{font-size:15px;margin:22px 0 8px}
.folder{margin:2px 0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;color:var(--muted)}
.subtitle{margin:2px 0 8px;color:var(--muted)}
nav a{margin-right:14px;color:var(--accent);text-decoration:none;font-weight:600}
main{padding:8px 28px 40px;max-width:1400px}
section{padding:18px 0 26px;border-bottom:1px solid var(--line)}
.type{font-size:12px;font-weight:600;color:#fff;background:var(--accent);border-radius:10px;
padding:2px 8px;vertical-align:middle}
.hint{display:block;font-size:12px;font-weight:400;color:var(--muted)}
h3 .hint{display:inline;margin-left:8px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:var(--panel)}
.card-title{font-weight:600;color:var(--muted);margin-bottom:6px}
.tiles{display:flex;flex-wrap:wrap;gap:8px 22px;margin:0}
.tile dt{font-size:12px;color:var(--muted)}.tile dd{margin:0;font-size:20px;font-weight:600;
font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px;
margin-top:16px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;display:block}
.plot-bg{fill:#fff}.axes{fill:none;stroke:#8c959f;stroke-width:1}
.grid{stroke:#eef1f4;stroke-width:1}.reference{stroke:#adb5bd;stroke-dasharray:4 4}
.tick{font-size:11px;fill:var(--muted)}.axis-label{font-size:12px;fill:var(--ink)}
.curve{fill:none;stroke-linejoin:round;stroke-linecap:round}
.bucket{fill:var(--accent);fill-opacity:.75;stroke:#fff;stroke-width:1}
.weight-bar{fill:#c9d3df}.dot{fill:none;stroke:var(--ink);stroke-width:2;pointer-events:none}
.focus .curve:not(.on){stroke-opacity:.12}.curve.gone{display:none}
.legend{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 12px;
font-size:12px}
.legend li{cursor:pointer;white-space:nowrap}.legend li.hidden{opacity:.35}
.swatch{display:inline-block;width:12px;height:4px;margin-right:5px;vertical-align:middle}
.legend-value{color:var(--muted);margin-left:4px;font-variant-numeric:tabular-nums}
.note{font-size:12px;color:var(--muted);margin:4px 0 0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 9px;border-bottom:1px solid #eef1f4;text-align:right}
th:first-child{text-align:left}thead th{border-bottom:1px solid var(--line);color:var(--muted);
font-weight:600;position:sticky;top:0;background:var(--bg)}
.scroll{overflow-x:auto}
table.metrics tbody tr:nth-child(even){background:#fafbfc}
table.confusion td{min-width:42px;text-align:center}
table.confusion td.diag{background:rgba(78,121,167,calc(var(--share)*.85));font-weight:600}
table.confusion td.off{background:rgba(225,87,89,calc(var(--share)*1.6))}
table.confusion .total{color:var(--muted)}
table.slices tr.overall{font-weight:600;background:var(--panel)}
table.slices tr.worse{background:var(--badbg)}
table.slices tr.worse .verdict{color:var(--bad);font-weight:600}
.verdict{text-align:left;color:var(--muted)}
.method{font-size:12px;color:var(--muted);max-width:980px}
details.pivot{margin:6px 0}summary{cursor:pointer;font-weight:600;color:var(--ink)}
table.facts th{text-align:left;color:var(--muted);font-weight:600;vertical-align:top}
table.facts td{text-align:left}
pre{background:var(--panel);padding:10px;border-radius:6px;overflow:auto;max-height:420px}
.warning{color:var(--bad);font-weight:600}
.tip{position:fixed;pointer-events:none;background:rgba(31,35,40,.92);color:#fff;
font-size:12px;padding:4px 7px;border-radius:4px;white-space:nowrap;z-index:5}
@media print{header{background:none}.tip{display:none}section{break-inside:avoid-page}}
"""

# Hover readout and legend interaction; the charts themselves are static SVG.
_JS = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  window.addEventListener("error", function (e) {
    root.setAttribute("data-headeval-error", String(e.message || e));
  });
  var data = JSON.parse(document.getElementById("headeval-data").textContent);
  var byId = {};
  data.curves.concat(data.calibration).forEach(function (s) { byId[s.id] = s; });
  var tip = document.createElement("div");
  tip.className = "tip";
  tip.style.display = "none";
  document.body.appendChild(tip);
  function fmt(v) {
    if (v === null) { return "-"; }
    var s = (+v).toPrecision(4);
    return s.indexOf(".") >= 0 && s.indexOf("e") < 0 ? s.replace(/\.?0+$/, "") : s;
  }
  var charts = document.querySelectorAll("svg.chart");
  var wired = 0;
  Array.prototype.forEach.call(charts, function (svg) {
    var plot = svg.getAttribute("data-plot").split(" ").map(Number);
    var kind = svg.getAttribute("data-kind");
    var ids = svg.getAttribute("data-series").split(" ").filter(Boolean);
    var dot = svg.querySelector(".dot");
    var box = svg.viewBox.baseVal;
    function px(x) { return plot[0] + plot[2] * Math.min(Math.max(x, 0), 1); }
    function py(y) { return plot[1] + plot[3] * (1 - Math.min(Math.max(y, 0), 1)); }
    svg.addEventListener("mousemove", function (ev) {
      var r = svg.getBoundingClientRect();
      var mx = (ev.clientX - r.left) * box.width / r.width;
      var my = (ev.clientY - r.top) * box.height / r.height;
      var best = null, bestD = Infinity;
      ids.forEach(function (id) {
        var s = byId[id];
        var line = svg.querySelector('[data-series="' + id + '"]');
        if (!s || (line && line.classList.contains("gone"))) { return; }
        for (var i = 0; i < s.x.length; i++) {
          if (s.x[i] === null || s.y[i] === null) { continue; }
          var dx = px(s.x[i]) - mx, dy = py(s.y[i]) - my, d = dx * dx + dy * dy;
          if (d < bestD) { bestD = d; best = [s, i]; }
        }
      });
      if (!best || bestD > 900) { tip.style.display = "none"; dot.setAttribute("cx", -10); return; }
      var s = best[0], i = best[1], text;
      if (kind === "calibration") {
        text = "bucket " + fmt(s.bucket[i]) + "–" + fmt(s.bucket[i] + s.bucket_width) +
          " · mean prediction " + fmt(s.x[i]) + " · mean label " + fmt(s.y[i]) +
          " · weight " + fmt(s.weight[i]);
      } else {
        text = s.label + " · threshold " + fmt(s.threshold[i]) + " · " +
          (kind === "roc" ? "FPR " + fmt(s.x[i]) + " · TPR " : "recall " + fmt(s.x[i]) +
           " · precision ") + fmt(s.y[i]);
      }
      dot.setAttribute("cx", px(s.x[i]));
      dot.setAttribute("cy", py(s.y[i]));
      tip.textContent = text;
      tip.style.display = "block";
      tip.style.left = (ev.clientX + 14) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () {
      tip.style.display = "none";
      dot.setAttribute("cx", -10);
    });
    wired += 1;
  });
  Array.prototype.forEach.call(document.querySelectorAll(".legend li"), function (item) {
    var fig = item.closest("figure");
    var id = item.getAttribute("data-series");
    var line = fig.querySelector('polyline[data-series="' + id + '"]');
    item.addEventListener("mouseenter", function () {
      fig.classList.add("focus");
      if (line) { line.classList.add("on"); }
    });
    item.addEventListener("mouseleave", function () {
      fig.classList.remove("focus");
      if (line) { line.classList.remove("on"); }
    });
    item.addEventListener("click", function () {
      item.classList.toggle("hidden");
      if (line) { line.classList.toggle("gone"); }
    });
  });
  root.setAttribute("data-headeval-charts", String(wired));
})();
"""
