"""The page's HTML tables: confusion matrix, per-class and per-threshold
pivots, all overall metrics, and the slice table with its significance
test. The arrangement (order, kinds, pivots) is pipeline.report.tables',
shared with `headeval show`; this module only writes it as HTML."""
from pipeline.report import tables
from pipeline.report.html.fairness import fairness_table
from pipeline.report.html.markup import escape, fmt, fmt_count, missing
from pipeline.report.html.stats import ALPHA, MIN_EXPECTED, slice_tests, test_row
from pipeline.report.html.summary import aggregate_row, summary_rows


def confusion_table(rows: list[dict], vocabulary: list[str] | None) -> str:
    """The confusion matrix of a multi-class head (its confusion_matrix rows),
    each cell shaded by its share of the label's row."""
    labels, predicted, cells = tables.pivot(
        rows, lambda r: r["class"], tables.predicted_class,
        row_sort=tables.class_sorter(vocabulary), column_sort=tables.class_sorter(vocabulary))
    out = ['<div class="scroll"><table class="confusion"><thead><tr><th class="corner">'
           'label ↓ · predicted →</th>']
    out += ['<th>%s</th>' % escape(p) for p in predicted]
    out.append('<th class="total">total</th></tr></thead><tbody>')
    for label in labels:
        values = [cells[(label, p)]["value"] if (label, p) in cells else None for p in predicted]
        total = sum(v for v in values if not missing(v))
        out.append('<tr><th>%s</th>' % escape(label))
        for p, v in zip(predicted, values):
            share = (v / total) if total and not missing(v) else 0.0
            cls = "diag" if p == label else "off"
            out.append('<td class="%s" style="--share:%.3f" title="label %s, predicted %s: %s '
                       '(%.1f%% of the label)">%s</td>'
                       % (cls, share, escape(label), escape(p), fmt(v), 100 * share, fmt(v)))
        out.append('<td class="total">%s</td></tr>' % fmt(total))
    out.append('</tbody></table></div>')
    return "".join(out)


def pivot_tables(overall_rows: list[dict], vocabulary: list[str] | None) -> str:
    """The per-threshold, per-class and per-class-and-threshold tables."""
    keep = [r for r in overall_rows
            if tables.row_kind(r) in ("threshold", "class", "class_threshold")]
    out = []
    for kind, title, header, body in tables.slice_tables(keep, vocabulary):
        n_text = 2 if kind == "class_threshold" else 1
        out.append('<details class="pivot" %s><summary>%s</summary><div class="scroll">'
                   '<table class="metrics"><thead><tr>%s</tr></thead><tbody>'
                   % ("open" if kind != "class_threshold" else "", escape(title.capitalize()),
                      "".join('<th>%s</th>' % escape(h) for h in header)))
        for cells in body:
            out.append("<tr>%s%s</tr>" % (
                "".join('<th>%s</th>' % escape(c) for c in cells[:n_text]),
                "".join('<td>%s</td>' % ("" if c is None else fmt(c["value"]))
                        for c in cells[n_text:])))
        out.append("</tbody></table></div></details>")
    return "".join(out)


def all_metrics_table(overall_rows: list[dict]) -> str:
    """Every scalar and count metric of the overall slice ('' when none)."""
    scalars = [r for r in overall_rows if tables.row_kind(r) in ("scalar", "count")]
    if not scalars:
        return ""
    body = "".join('<tr><th>%s</th><td>%s</td></tr>' % (escape(r["key"]), fmt(r["value"], 6))
                   for r in scalars)
    return ('<details class="pivot"><summary>All overall metrics</summary><table '
            'class="metrics"><tbody>%s</tbody></table></details>' % body)


def slice_table(head: str, head_rows: list[dict], counts: dict) -> str:
    """One head's slices (overall first, then by example count) with the
    slice test's verdicts (pipeline.report.html.stats) and a few key
    metrics, then a paragraph on the test."""
    slices = list(dict.fromkeys(r["slice"] for r in tables.order_rows(head_rows, counts)))
    results, level, key = slice_tests(head_rows, slices, counts, head)
    overall = [r for r in head_rows if r["slice"] == ""]
    metric_keys = [label for label, _ in summary_rows(overall)
                   if aggregate_row(overall, label) is not None and label != key][:4]
    header = ["slice", "examples", "weighted"]
    if key:
        base = test_row(overall)
        header += [key if base["threshold"] is None else "%s @ %g" % (base["metric"],
                                                                       base["threshold"]),
                   "rest", "Δ vs rest", "z", "p", ""]
    header += metric_keys
    out = ['<div class="scroll"><table class="slices"><thead><tr>%s</tr></thead><tbody>'
           % "".join('<th>%s</th>' % escape(h) for h in header)]
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
        cells = ['<th>%s</th>' % escape(s or "(overall)"),
                 '<td>%s</td>' % fmt_count(c.get("example_count")),
                 '<td>%s</td>' % fmt_count(c.get("weighted_example_count"))]
        if key:
            acc = aggregate_row(rows, key) or next((r for r in rows if r["key"] == key), None)
            cells.append('<td>%s</td>' % ("–" if acc is None else fmt(acc["value"])))
            if s == "":
                cells += ['<td></td>'] * 5
            elif result is None:
                cells += ['<td></td>'] * 4 + ['<td class="verdict">%s</td>' % (
                    "undefined" if acc is not None and missing(acc["value"])
                    else "too few to test")]
            else:
                cells += ['<td>%s</td>' % fmt(result["rest"]),
                          '<td>%+.3g</td>' % result["diff"],
                          '<td>%.2f</td>' % result["z"],
                          '<td>%.2g</td>' % result["p"],
                          '<td class="verdict">%s</td>' % ("significantly worse" if worse
                                                           else "")]
        for k in metric_keys:
            r = aggregate_row(rows, k)
            cells.append('<td>%s</td>' % ("–" if r is None else fmt(r["value"])))
        out.append('<tr class="%s" data-slice="%s">%s</tr>' % (cls, escape(s), "".join(cells)))
    out.append("</tbody></table></div>")
    out.append(fairness_table(head_rows, slices))  # metrics.fairness, when configured
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
               escape(key), round(ALPHA / level), level, MIN_EXPECTED,
               "; a multi-label accuracy averages over classes while n counts examples "
               "(conservative)" if "positive_threshold" in key else ""))
    elif key:
        out.append('<p class="method">No slice has enough examples for the z-test on '
                   '<code>%s</code>.</p>' % escape(key))
    elif len(slices) > 1:
        out.append('<p class="method">No significance test for this head (it reports no '
                   'accuracy).</p>')
    return "".join(out)
