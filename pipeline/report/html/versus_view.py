"""The page's comparison parts: the validation section (verdict, failed gates
first), the candidate-against-baseline line of a value, and error bars.

What they show comes from pipeline.report.versus (pairing, direction,
verdict), shared with `headeval show`; this module only writes it as HTML.
An error bar is a small inline SVG: the interval [lower, upper] as a line,
the value as a dot and a reference value (the overall value, or the
baseline's) as a tick, on a scale shared by the bars it is compared with.
"""
from pipeline.report import versus
from pipeline.report.html.markup import escape, fmt, missing

BAR_W, BAR_H, BAR_PAD = 90, 14, 4


def has_interval(row: dict | None) -> bool:
    """The row has a confidence interval (lower and upper not null)."""
    return row is not None and not (missing(row.get("lower")) or missing(row.get("upper")))


def interval_text(row: dict) -> str:
    """'[0.8012, 0.8301]' of a row with an interval."""
    return "[%s, %s]" % (fmt(row["lower"]), fmt(row["upper"]))


def scale(rows: list, *references) -> tuple | None:
    """(low, high) covering the intervals of `rows` and the reference
    values; None when no row has an interval."""
    points = [v for r in rows if has_interval(r) for v in (r["lower"], r["upper"], r["value"])
              if not missing(v)]
    if not points:
        return None
    points += [v for v in references if not missing(v)]
    low, high = min(points), max(points)
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def error_bar(row: dict, span: tuple, reference=None, title: str = "") -> str:
    """An inline SVG error bar of `row`'s interval on `span` (scale()), with
    a tick at `reference`; '' when the row has no interval."""
    if not has_interval(row) or span is None:
        return ""
    low, high = span

    def x(v):
        return BAR_PAD + (BAR_W - 2 * BAR_PAD) * (min(max(v, low), high) - low) / (high - low)
    mid = BAR_H / 2.0
    parts = ['<line class="ci" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#4e79a7" '
             'stroke-width="2"/>' % (x(row["lower"]), mid, x(row["upper"]), mid)]
    for end in (row["lower"], row["upper"]):
        parts.append('<line class="ci-end" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                     'stroke="#4e79a7"/>' % (x(end), mid - 4, x(end), mid + 4))
    if not missing(reference):
        parts.append('<line class="ref" x1="%.1f" y1="0" x2="%.1f" y2="%d" stroke="#c0392b" '
                     'stroke-dasharray="2 2"/>' % (x(reference), x(reference), BAR_H))
    if not missing(row["value"]):
        parts.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="#1f2328"/>'
                     % (x(row["value"]), mid))
    return ('<svg class="ebar" data-lower="%r" data-upper="%r" viewBox="0 0 %d %d" width="%d" '
            'height="%d" role="img" aria-label="%s"><title>%s</title>%s</svg>'
            % (float(row["lower"]), float(row["upper"]), BAR_W, BAR_H, BAR_W, BAR_H,
               escape(title or interval_text(row)), escape(title or interval_text(row)),
               "".join(parts)))


def delta_html(row: dict) -> str:
    """The change against the baseline, coloured by direction: a <span>
    with class better / worse (none: unknown direction or no change)."""
    delta = row.get("delta")
    if missing(delta):
        return '<span class="delta">–</span>'
    text = "%+.4g" % delta
    if not (missing(row.get("delta_lower")) or missing(row.get("delta_upper"))):
        text += " [%+.3g, %+.3g]" % (row["delta_lower"], row["delta_upper"])
    change = row.get("change")
    return '<span class="delta%s" data-delta="%r"%s>%s</span>' % (
        " " + change if change else "", float(delta),
        ' title="%s than the baseline"' % change if change else "", escape(text))


def versus_line(row: dict) -> str:
    """A summary tile's second line: 'baseline 0.89 · +0.02'."""
    return ('<div class="vs" data-baseline="%s">baseline %s · %s</div>'
            % ("" if missing(row.get("baseline")) else repr(float(row["baseline"])),
               fmt(row.get("baseline")), delta_html(row)))


def validation_section(verdict: versus.Verdict) -> str:
    """The verdict and one table row per gate and row checked, the failed
    first (validation.parquet; without it, the verdict alone)."""
    status = {versus.BLESSED: "blessed", versus.NOT_BLESSED: "not-blessed"}.get(
        verdict.status, "no-gates")
    out = ['<section class="validation" id="validation"><h2>Validation</h2>'
           '<p class="verdict-line %s" data-status="%s">%s</p>'
           % (status, escape(verdict.status), escape(versus.verdict_text(verdict)))]
    if verdict.rows:
        header = ["gate", "", "head", "slice", "metric", "value", "baseline", "bound", "kind",
                  "reason"]
        out.append('<div class="scroll"><table class="gates"><thead><tr>%s</tr></thead><tbody>'
                   % "".join("<th>%s</th>" % h for h in header))
        for r in verdict.rows:
            out.append(
                '<tr class="%s" data-gate="%s"><th>%s <span class="hint">%s</span></th>'
                '<td class="result">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
                '<td>%s</td><td>%s</td><td>%s</td><td class="reason">%s</td></tr>'
                % ("passed" if r["passed"] else "failed", r["gate"], r["gate"],
                   escape(r.get("gate_text") or ""), "passed" if r["passed"] else "FAILED",
                   escape(r.get("head") or ""),
                   escape("" if r.get("slice") is None else r["slice"] or "(overall)"),
                   escape(r.get("key") or r.get("metric") or ""), fmt(r.get("value")),
                   fmt(r.get("baseline")), fmt(r.get("bound")), escape(r.get("kind") or ""),
                   escape(r.get("reason") or "")))
        out.append("</tbody></table></div>")
    out.append("</section>")
    return "".join(out)
