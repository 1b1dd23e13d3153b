"""The slice table's fairness view: each slice's rate differences to the
overall slice (the `<rate>_difference` rows of `pipeline.report.fairness`),
with the ratio in the cell's tooltip."""
from pipeline.report.html.markup import escape, fmt, missing

MAX_COLUMNS = 8
DIFFERENCE, RATIO = "_difference", "_ratio"


def _label(row, suffix):
    """'fpr @ 0.5' for an fpr_difference (or fpr_ratio) row at 0.5."""
    text = row["metric"][:-len(suffix)]
    if row.get("class") is not None:
        text += " [%s]" % row["class"]
    if row.get("threshold") is not None:
        text += " @ %g" % row["threshold"]
    return text


def fairness_table(head_rows: list[dict], slices: list[str]) -> str:
    """A table of slices (in `slices`' order, overall left out) by rate
    difference; "" when the head has no fairness rows. The candidate's rows
    only (a baseline's are in the metrics file)."""
    def of(suffix):
        return {(r["slice"], _label(r, suffix)): r["value"] for r in head_rows
                if r["metric"].endswith(suffix) and r["slice"] != ""
                and r.get("model", "candidate") == "candidate"}
    cells, ratios = of(DIFFERENCE), of(RATIO)
    if not cells:
        return ""
    columns = list(dict.fromkeys(c for _, c in cells))[:MAX_COLUMNS]
    out = ['<h3>Fairness <span class="hint">each slice\'s rate minus the overall slice\'s; '
           'the ratio in the tooltip</span></h3><div class="scroll"><table class="slices '
           'fairness"><thead><tr><th>slice</th>%s</tr></thead><tbody>'
           % "".join('<th>%s</th>' % escape(c) for c in columns)]
    for s in slices:
        if s == "" or not any((s, c) in cells for c in columns):
            continue
        tds = []
        for c in columns:
            v = cells.get((s, c))
            ratio = ratios.get((s, c))
            text = "–" if v is None or missing(v) else "%+.3g" % v
            tds.append('<td title="ratio %s">%s</td>' % (fmt(ratio), text))
        out.append('<tr data-slice="%s"><th>%s</th>%s</tr>' % (escape(s), escape(s),
                                                                "".join(tds)))
    out.append("</tbody></table></div>")
    return "".join(out)
