"""The page's HTML tables: confusion matrix, per-class and per-threshold
pivots, all overall metrics (the slice table is
pipeline.report.html.slice_table). The arrangement (order, kinds, pivots) is pipeline.report.tables',
shared with `headeval show`; this module only writes it as HTML."""
from pipeline.report import tables
from pipeline.report.html.markup import escape, fmt, missing


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
