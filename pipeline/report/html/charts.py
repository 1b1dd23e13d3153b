"""The page's charts: ROC and PR curves and the calibration plot, as
hand-written inline SVG generated here in Python.

* No dependency and no network: matplotlib is not a headeval dependency (it
  would add a large install, a font cache and ~1 s of import to a command
  that otherwise starts at once), and an inlined JS chart library would put
  a few hundred KB of third-party code, with its licence, into every report
  and draw nothing where scripts are off (mail attachments, some viewers).
* The charts are the data: each curve is a `<polyline>` with one vertex per
  row of curves.parquet, in the same order, and the exact values travel in
  the page's JSON block (ChartData), so tests read both back and compare
  them with the Parquet files.

Curves are those of the overall slice; the slice table compares slices.
With a baseline (curves.parquet's `model` column), each curve of the
candidate is drawn solid and the baseline's of the same class dashed in
the same colour, on one chart, each with its legend entry.
"""
import math

from pipeline.report import tables
from pipeline.report.html.markup import escape, fmt, fmt_count, json_number, missing
from pipeline.report.schema import BASELINE, CANDIDATE

# Tableau 10: distinguishable, and readable by most colour-blind people.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
POOLED_COLOR = "#1f1f1f"
MAX_CLASS_CURVES = 20
CURVE_AXES = {"roc": ("fpr", "recall", "false positive rate", "true positive rate (recall)"),
              "pr": ("recall", "precision", "recall", "precision")}
CURVE_AUC = {"roc": "auc", "pr": "auc_precision_recall"}

# The chart frame, in SVG user units (the SVG scales to its column).
WIDTH, HEIGHT = 380, 330
LEFT, TOP, RIGHT, BOTTOM = 52, 14, 16, 46
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


class ChartData:
    """The exact values of every series drawn while a page renders (the
    page's JSON block), and the ids that tie each to its SVG element."""

    def __init__(self):
        self.data = {"version": 1, "curves": [], "calibration": []}
        self.n_series = 0

    def series_id(self, prefix: str) -> str:
        """A new id, unique in the page: `prefix` and a running number."""
        self.n_series += 1
        return "%s%d" % (prefix, self.n_series)


# -- geometry and SVG ----------------------------------------------------------

def px(value: float) -> str:
    """An SVG coordinate to 0.01 unit, without trailing zeros."""
    return ("%.2f" % value).rstrip("0").rstrip(".")


def sx(x: float) -> float:
    """The SVG x of a data x in [0, 1] (clamped to the plot)."""
    return LEFT + PLOT_W * min(max(x, 0.0), 1.0)


def sy(y: float) -> float:
    """The SVG y of a data y in [0, 1] (clamped to the plot; up is 1)."""
    return TOP + PLOT_H * (1.0 - min(max(y, 0.0), 1.0))


def frame(x_label: str, y_label: str, diagonal: str | None = None) -> list[str]:
    """Axes, grid, ticks and labels of a [0, 1] x [0, 1] chart (SVG
    elements); diagonal="up" adds the y = x reference line."""
    # The fills and strokes that matter are attributes too (CSS overrides them):
    # where a viewer drops the <style> (a sanitized notebook output), the
    # chart still reads.
    parts = ['<rect class="plot-bg" fill="#fff" x="%d" y="%d" width="%d" height="%d"/>'
             % (LEFT, TOP, PLOT_W, PLOT_H)]
    for i in range(6):
        v = i / 5.0
        x, y = px(sx(v)), px(sy(v))
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
                     % (px(sx(0)), px(sy(0)), px(sx(1)), px(sy(1))))
    parts.append('<rect class="axes" fill="none" stroke="#8c959f" x="%d" y="%d" width="%d" '
                 'height="%d"/>'
                 % (LEFT, TOP, PLOT_W, PLOT_H))
    parts.append('<text class="axis-label" x="%s" y="%d" text-anchor="middle">%s</text>'
                 % (px(LEFT + PLOT_W / 2.0), HEIGHT - 8, escape(x_label)))
    parts.append('<text class="axis-label" transform="translate(14 %s) rotate(-90)" '
                 'text-anchor="middle">%s</text>' % (px(TOP + PLOT_H / 2.0), escape(y_label)))
    return parts


def svg(kind: str, series_ids: list[str], body: list[str], label: str) -> str:
    """The <svg> of one chart: its plot frame and series ids as data
    attributes (the page's script reads them) and the hover dot."""
    return ('<svg class="chart" data-kind="%s" data-plot="%d %d %d %d" data-series="%s" '
            'viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">%s'
            '<circle class="dot" fill="none" r="4" cx="-10" cy="-10"/></svg>'
            % (kind, LEFT, TOP, PLOT_W, PLOT_H, " ".join(series_ids), WIDTH, HEIGHT, WIDTH,
               HEIGHT, escape(label), "".join(body)))


def polyline(series_id: str, color: str, xs: list, ys: list, width: float,
             model: str | None = None) -> str:
    """A <polyline> through the points (x, y), skipping missing ones;
    `model` (given when the chart shows two) marks it, the baseline's dashed."""
    points = " ".join("%s,%s" % (px(sx(x)), px(sy(y)))
                      for x, y in zip(xs, ys) if not (missing(x) or missing(y)))
    extra = "" if model is None else ' data-model="%s"%s' % (
        model, ' stroke-dasharray="6 4"' if model == BASELINE else "")
    return ('<polyline class="curve" data-series="%s" fill="none" stroke="%s" stroke-width="%s"%s '
            'points="%s"/>' % (series_id, color, width, extra, points))


# -- the figures ------------------------------------------------------------------

def curve_groups(curves: dict | None, head: str, slice_: str = "",
                 model: str = CANDIDATE) -> list[tuple]:
    """[(class or None, kind, [row indices])] of one head, slice and model
    (a file without the `model` column is the candidate's), in file order
    (the pooled curve first, then classes as they come)."""
    if not curves:
        return []
    groups = {}
    heads, slices, classes, kinds = (curves["head"], curves["slice"], curves["class"],
                                     curves["curve"])
    models = curves.get("model") or [CANDIDATE] * len(heads)
    for i in range(len(heads)):
        if heads[i] == head and slices[i] == slice_ and models[i] == model:
            groups.setdefault((classes[i], kinds[i]), []).append(i)
    return [(k[0], k[1], v) for k, v in groups.items()]


def class_label(name: str | None, head_type: str) -> str:
    """A curve's legend label: its class, or what the pooled curve is."""
    if name is not None:
        return str(name)
    return "all classes (pooled)" if head_type == "multi_label" else "overall"


def curve_figure(data: ChartData, head: str, kind: str, groups: list[tuple], curves: dict,
                 overall_rows: list[dict], head_type: str, vocabulary: list[str] | None,
                 baseline_groups: list[tuple] | None = None) -> str:
    """The ROC (kind "roc") or PR ("pr") figure of a head: the pooled curve
    and up to MAX_CLASS_CURVES class curves, with a legend of their AUCs;
    with `baseline_groups` (curve_groups of the baseline), the baseline's
    curve of each class drawn beside the candidate's, dashed."""
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
    body = frame(x_label, y_label, diagonal="up" if kind == "roc" else None)
    legend, ids = [], []
    auc_key = CURVE_AUC[kind]
    baseline = None if baseline_groups is None else {
        g[0]: g[2] for g in baseline_groups if g[1] == kind}
    for n, (class_name, _, index) in enumerate(pooled + per_class):
        is_pooled = class_name is None
        color = POOLED_COLOR if is_pooled else PALETTE[(n - len(pooled)) % len(PALETTE)]
        key = auc_key if is_pooled else "%s/%s" % (auc_key, class_name)
        row = next((r for r in overall_rows if r["key"] == key), None)
        label = class_label(class_name, head_type)
        drawn = [(None, index, label, None if row is None else row["value"])]
        if baseline is not None:
            drawn = [(CANDIDATE, index, label + " (candidate)", drawn[0][3])]
            if class_name in baseline:
                drawn.append((BASELINE, baseline[class_name], label + " (baseline)",
                              None if row is None else row.get("baseline")))
        for model, rows_at, text, auc in drawn:
            sid = data.series_id("c")
            ids.append(sid)
            xs = [curves[x_col][i] for i in rows_at]
            ys = [curves[y_col][i] for i in rows_at]
            series = {
                "id": sid, "head": head, "slice": "", "class": class_name, "curve": kind,
                "label": text, "x_column": x_col, "y_column": y_col,
                "threshold": [json_number(curves["threshold"][i]) for i in rows_at],
                "x": [json_number(v) for v in xs], "y": [json_number(v) for v in ys]}
            if model is not None:
                series["model"] = model
            data.data["curves"].append(series)
            width = (2.6 if is_pooled else 1.6) * (0.85 if model == BASELINE else 1.0)
            body.append(polyline(sid, color, xs, ys, round(width, 2), model))
            swatch = ("background:%s" % color if model != BASELINE else
                      "background:repeating-linear-gradient(90deg,%s 0 4px,transparent 4px "
                      "6px)" % color)
            legend.append('<li data-series="%s"%s><span class="swatch" style="%s"></span>'
                          '%s<span class="legend-value">%s</span></li>'
                          % (sid, "" if model is None else ' data-model="%s"' % model, swatch,
                             escape(text), "" if auc is None else
                             "%s %s" % ("AUC" if kind == "roc" else "AUC-PR", fmt(auc))))
    title = "ROC curve" if kind == "roc" else "Precision–recall curve"
    hint = ("Up and to the left is better; the diagonal is chance." if kind == "roc" else
            "Up and to the right is better; look for where precision falls off.")
    return ('<figure class="chart-box" data-head="%s" data-chart="%s"><figcaption>%s'
            '<span class="hint">%s</span></figcaption>%s<ul class="legend">%s</ul>%s</figure>'
            % (escape(head), kind, title, hint, svg(kind, ids, body, "%s of head %s"
                                                   % (title, head or "(unnamed)")),
               "".join(legend), note))


def calibration_figure(data: ChartData, head: str, calibration_rows: list[dict],
                       pooled_classes: bool = False) -> str:
    """The calibration plot of a head: mean label against mean prediction per
    probability bucket (points sized by weight), over a histogram of the
    weight per bucket."""
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
    body = frame("mean predicted probability", "observed frequency (mean label)", "up")
    for edge, w in zip(edges, weights):  # the weight per bucket, as a histogram at the bottom
        if w > 0 and top > 0:
            h = 0.25 * PLOT_H * w / top
            body.append('<rect class="weight-bar" x="%s" y="%s" width="%s" height="%s"/>'
                        % (px(sx(edge) + 0.5), px(TOP + PLOT_H - h),
                           px(max(PLOT_W * width - 1.0, 0.5)), px(h)))
    sid = data.series_id("k")
    kept = [(e, value(e, "prediction_mean"), value(e, "label_mean"), w)
            for e, w in zip(edges, weights)]
    kept = [k for k in kept if k[3] > 0 and not (missing(k[1]) or missing(k[2]))]
    data.data["calibration"].append({
        "id": sid, "head": head, "slice": "", "label": "calibration",
        "bucket": [e for e, _, _, _ in kept], "bucket_width": width,
        "x": [json_number(x) for _, x, _, _ in kept],
        "y": [json_number(y) for _, _, y, _ in kept],
        "weight": [json_number(w) for _, _, _, w in kept]})
    body.append(polyline(sid, PALETTE[0], [k[1] for k in kept], [k[2] for k in kept], 1.4))
    for e, x, y, w in kept:
        r = 2.0 + 5.0 * math.sqrt(w / top) if top > 0 else 3.0
        body.append('<circle class="bucket" data-series="%s" cx="%s" cy="%s" r="%s"/>'
                    % (sid, px(sx(x)), px(sy(y)), px(r)))
    total = sum(weights)
    return ('<figure class="chart-box" data-head="%s" data-chart="calibration"><figcaption>'
            'Calibration<span class="hint">On the diagonal, a predicted probability p comes '
            'true a fraction p of the time. Points: %d buckets of width %g (area ∝ weight); '
            'bars: weight per bucket (total %s%s).</span></figcaption>%s'
            '</figure>'
            % (escape(head), len(kept), width, fmt_count(total),
               ", pooled over the classes" if pooled_classes else "",
               svg("calibration", [sid], body,
                   "Calibration of head %s" % (head or "(unnamed)"))))
