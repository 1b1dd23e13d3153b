"""The page's slice table: one row per slice of a head (overall first, then
the slices behind the baseline, then by example count) with the flag of
slices worse than the rest of the data (pipeline.report.html.stats), the
candidate against the baseline on the head's headline metric
(pipeline.report.versus) and error bars where the report has intervals."""
from pipeline.report import tables, versus
from pipeline.report.html.fairness import fairness_table
from pipeline.report.html.markup import escape, fmt, fmt_count, missing
from pipeline.report.html.stats import (ALPHA, MIN_EXPECTED, interval_flags, slice_tests,
                                        test_row)
from pipeline.report.html.summary import aggregate_row, summary_rows
from pipeline.report.html.versus_view import (delta_html, error_bar, has_interval,
                                              interval_text, scale)


def _value_cell(row, span=None, reference=None):
    """A value cell: the value, and its error bar on `span` when it has an
    interval (the tick at `reference`)."""
    if row is None:
        return "<td>–</td>"
    bar = error_bar(row, span, reference) if span is not None else ""
    return '<td>%s%s</td>' % (fmt(row["value"]), (" " + bar) if bar else "")


def _column(by_slice, slices, key):
    """The rows of `key` (no class) of every slice, None where absent."""
    return [next((r for r in by_slice[s] if r["key"] == key and r["class"] is None), None)
            for s in slices]


def slice_table(head: str, head_rows: list[dict], counts: dict, behind=None) -> str:
    """One head's slices with the slice flag's verdicts and a few key
    metrics, then a paragraph on the flag. `head_rows` may be paired with a
    baseline (versus.paired) and `behind` ({(head, slice): row},
    versus.behind) then adds the headline metric's baseline and delta."""
    slices = list(dict.fromkeys(r["slice"] for r in tables.order_rows(head_rows, counts,
                                                                      ahead=behind)))
    by_slice = {}
    for r in head_rows:
        by_slice.setdefault(r["slice"], []).append(r)
    overall = by_slice.get("", [])
    flags, interval_base = interval_flags(head_rows, slices)
    if interval_base is not None:
        results, level, key = {}, None, interval_base["key"]
    else:
        results, level, key = slice_tests(head_rows, slices, counts, head)
    headline = versus.headline_row(overall) if behind is not None else None
    metric_keys = [label for label, _ in summary_rows(overall)
                   if aggregate_row(overall, label) is not None and label != key
                   and (headline is None or label != headline["key"])][:4]
    header = ["slice", "examples", "weighted"]
    if headline is not None:
        header += [headline["key"], "baseline", "Δ vs baseline"]
    if interval_base is not None:
        header += [key, "interval", ""]
    elif key:
        base = test_row(overall)
        header += [key if base["threshold"] is None else "%s @ %g" % (base["metric"],
                                                                       base["threshold"]),
                   "rest", "Δ vs rest", "z", "p", ""]
    header += metric_keys
    spans = {k: scale(_column(by_slice, slices, k), aggregate_row(overall, k) and
                      aggregate_row(overall, k)["value"])
             for k in metric_keys + [x["key"] for x in (headline, interval_base) if x]}
    out = ['<div class="scroll"><table class="slices"><thead><tr>%s</tr></thead><tbody>'
           % "".join('<th>%s</th>' % escape(h) for h in header)]
    n_worse = 0
    for s in slices:
        rows = by_slice[s]
        c = counts.get((head, s), {})
        result = results.get(s)
        if interval_base is not None:
            worse = bool(flags.get(s, (None, None))[1])
        else:
            worse = (result is not None and level is not None and result["p"] < level
                     and result["diff"] < 0)
        n_worse += worse
        classes = ["overall" if s == "" else ("worse" if worse else "")]
        if behind is not None and (head, s) in behind and s != "":
            classes.append("behind")
        cells = ['<th>%s</th>' % escape(s or "(overall)"),
                 '<td>%s</td>' % fmt_count(c.get("example_count")),
                 '<td>%s</td>' % fmt_count(c.get("weighted_example_count"))]
        if headline is not None:
            row = aggregate_row(rows, headline["key"])
            cells.append(_value_cell(row, spans[headline["key"]],
                                     None if row is None else row.get("baseline")))
            cells.append('<td>%s</td>' % ("–" if row is None else fmt(row.get("baseline"))))
            cells.append('<td>%s</td>' % ("" if row is None else delta_html(row)))
        if interval_base is not None:
            row = flags.get(s, (interval_base, None))[0] if s else interval_base
            cells.append(_value_cell(row, spans[key], interval_base["value"]))
            cells.append('<td>%s</td>' % (interval_text(row) if has_interval(row) else "–"))
            cells.append('<td class="verdict">%s</td>' % (
                "worse than overall" if worse else "" if s == "" or has_interval(row)
                else "no interval"))
        elif key:
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
            base = aggregate_row(overall, k)
            cells.append(_value_cell(r, spans[k] if has_interval(r) else None,
                                     None if base is None else base["value"]))
        out.append('<tr class="%s" data-slice="%s">%s</tr>'
                   % (" ".join(x for x in classes if x) if len(classes) > 1 else classes[0],
                      escape(s), "".join(cells)))
    out.append("</tbody></table></div>")
    out.append(_method(key, level, n_worse, interval_base, slices, headline))
    out.append(fairness_table(head_rows, slices))  # metrics.fairness, when configured
    return "".join(out)


def _method(key, level, n_worse, interval_base, slices, headline):
    """The paragraph under the table: how slices are flagged."""
    summary = ("%d slice%s significantly worse than the rest" % (n_worse, "" if n_worse == 1
                                                                 else "s")
               if n_worse else "No slice is significantly worse than the rest")
    text = ""
    if headline is not None:
        text += ('<p class="method">Slices where the candidate\'s <code>%s</code> is worse '
                 'than the baseline\'s are listed right after the overall slice (marked). '
                 'Δ = candidate − baseline, coloured by the metric\'s direction.</p>'
                 % escape(headline["key"]))
    if interval_base is not None:
        return text + (
            '<p class="method">%s. Flag: a slice is worse when its confidence interval of '
            '<code>%s</code> lies entirely on the worse side of the overall value (the dashed '
            'tick of its error bar); the overall value includes the slice, so the flag is '
            'conservative.</p>' % (summary.replace("significantly worse than the rest",
                                                   "worse than overall"),
                                   escape(interval_base["key"])))
    if key and level is not None:
        return text + (
            '<p class="method">%s. Test: one-sided two-proportion z-test of each slice\'s '
            '<code>%s</code> against the rest of the data (overall minus the slice), normal '
            'approximation, pooled proportion = the overall value; flagged when p &lt; '
            '0.05 / %d = %.3g (Bonferroni over the slices tested). Needs %g+ expected '
            'successes and failures per group. Weighted accuracies are compared with '
            'unweighted example counts%s.</p>'
            % (summary, escape(key), round(ALPHA / level), level, MIN_EXPECTED,
               "; a multi-label accuracy averages over classes while n counts examples "
               "(conservative)" if "positive_threshold" in key else ""))
    if key:
        return text + ('<p class="method">No slice has enough examples for the z-test on '
                       '<code>%s</code>.</p>' % escape(key))
    if len(slices) > 1:
        return text + ('<p class="method">No significance test for this head (it reports no '
                       'accuracy).</p>')
    return text
