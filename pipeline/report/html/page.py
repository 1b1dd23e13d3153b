"""`headeval report`: a report folder as one self-contained HTML file.

    write_report("out/report")              # -> out/report/report.html
    html_text = render_report("gs://b/report")

With a baseline, a validation section comes first (the verdict and the
failed gates first), the summary card shows candidate, baseline and delta,
the ROC and PR charts draw both models, and the slice table lists the
slices behind the baseline first (pipeline.report.versus decides, as for
`show`); intervals add error bars (pipeline.report.html.versus_view).

The page has, per head: a summary card of the key metrics (overall slice),
ROC and PR curves and a calibration plot for classification heads
(pipeline.report.html.charts), the confusion matrix of a multi-class head,
the per-class and per-threshold tables, and a slice table that highlights
slices significantly worse than the rest of the data
(pipeline.report.html.stats); then the run facts from run.json. It reads
the report only through `pipeline.report.load` (Beam FileSystems), so a
report on gs:// renders as a local one does, and writes the page the same
way.

Static first: the page is complete without JavaScript (it prints, and shows
in viewers that block scripts). A small inline script only adds a hover
readout (nearest point: class, threshold, the two rates), legend hover/click
to single out or hide a class, and sets `data-headeval-charts` on `<html>`
to the number of charts it wired (the browser test waits for it).
"""
import json
import os
from datetime import datetime, timezone

from pipeline.errors import OutputExistsError
from pipeline.io.paths import is_local, join, local_path
from pipeline.report import tables  # row order, kinds and pivots, shared with `show`
from pipeline.report import versus  # candidate against baseline, and the verdict
from pipeline.report.html.assets import CSS, JS
from pipeline.report.html.charts import (ChartData, calibration_figure, curve_figure,
                                         curve_groups)
from pipeline.report.html.markup import (escape, fmt_count, format_time, json_for_script,
                                         missing)
from pipeline.report.html.metric_tables import (all_metrics_table, confusion_table,
                                                pivot_tables)
from pipeline.report.html.slice_table import slice_table
from pipeline.report.html.summary import head_type, summary_card
from pipeline.report.html.versus_view import validation_section
from pipeline.report.load import Report, load_report
from pipeline.report.schema import (BASELINE, CURVES_FILE, HTML_FILE, METRICS_FILE, REJECTED_DIR,
                                    REPORT_MARKER, RUN_FILE, VOCABULARY_DIR)

DATA_ELEMENT_ID = "headeval-data"
CHARTS_ATTRIBUTE = "data-headeval-charts"
ERROR_ATTRIBUTE = "data-headeval-error"
GENERATOR = '<meta name="generator" content="headeval">'  # in every page's <head>
# The report's own files and folders, which `--out` must not name.
DATA_NAMES = (METRICS_FILE, CURVES_FILE, RUN_FILE, REJECTED_DIR, VOCABULARY_DIR)


def render_report(folder: str) -> str:
    """The HTML page (a str) for the report in `folder`."""
    return render(load_report(folder), versus.load_extras(folder))


def _is_our_page(path: str) -> bool:
    """True when the file at `path` starts as a page `render` wrote."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        start = f.read(1024)
    return GENERATOR.encode() in start


def _report_owning(out: str):
    """(folder, data name) when `out` is a data file (or folder) of any
    headeval report, i.e. under a folder whose run.json has our marker:
    `--out OTHER/metrics.parquet --overwrite` once replaced another
    report's data with a page. None otherwise."""
    from pipeline.io.files import read_json

    if is_local(out):
        path = os.path.realpath(local_path(out))
        parts = path.split(os.sep)
    else:
        path = out.rstrip("/")
        parts = path.split("/")
    for depth in (1, 2):  # metrics.parquet, or rejected/part-0.parquet
        if len(parts) <= depth or parts[-depth] not in DATA_NAMES:
            continue
        folder = (os.sep if is_local(out) else "/").join(parts[:-depth]) or os.sep
        try:
            run = read_json(join(folder, RUN_FILE))
        except (OSError, ValueError):
            continue
        if isinstance(run, dict) and REPORT_MARKER in run:
            return folder, parts[-depth]
    return None


def _check_destination(folder: str, out: str, overwrite: bool) -> None:
    """OutputExistsError unless `out` may be written: never a data file of
    this or any other headeval report, nor an existing file that is not a page we
    wrote (unless `overwrite`)."""
    from apache_beam.io.filesystems import FileSystems

    if is_local(out) and is_local(folder):
        real, home = os.path.realpath(local_path(out)), os.path.realpath(local_path(folder))
        inside = os.path.relpath(real, home).split(os.sep)
        if inside[0] in DATA_NAMES:
            raise OutputExistsError("--out %s is the report's own %s; write the page to "
                                    "another file" % (out, inside[0]), out)
        if os.path.isdir(real):
            raise OutputExistsError("--out %s is a folder; name a file" % out, out)
    owner = _report_owning(out)
    if owner is not None:
        folder_of, name = owner
        raise OutputExistsError("--out %s is %s of the headeval report %s; write the page to "
                                "another file" % (out, name, folder_of), out)
    if FileSystems.exists(out) and not overwrite and not _is_our_page(out):
        raise OutputExistsError("--out %s exists and is not a headeval HTML report; pass "
                                "--overwrite to replace it" % out, out)


def write_report(folder: str, out: str | None = None, overwrite: bool = False) -> str:
    """Renders the report in `folder` to `out` (default: report.html in the
    folder; any Beam filesystem). Returns the path written. An existing page
    of ours is replaced; any other file only with `overwrite`, and the
    report's data files never."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    out = out or join(folder, HTML_FILE)
    _check_destination(folder, out, overwrite)
    page = render_report(folder).encode("utf-8")
    with FileSystems.create(out, mime_type="text/html",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(page)
    return out


def _head_summary(data, report, head, head_rows, counts, compares=False):
    """A head's title, summary card and charts (their values go to `data`):
    the top of its page section, and all a notebook shows of it. With
    `compares`, `head_rows` are paired and the charts draw the baseline."""
    type_ = head_type(head, head_rows, report.run)
    vocabulary = tables.class_orders(report.run).get(head)
    overall = [r for r in head_rows if r["slice"] == ""]
    parts = ['<h2>%s <span class="type">%s</span></h2>'
             % (escape(head or "(unnamed head)"), escape(type_)),
             summary_card(overall, counts.get((head, ""), {}), type_, vocabulary)]
    charts = []
    groups = curve_groups(report.curves, head)
    baseline_groups = curve_groups(report.curves, head, model=BASELINE) if compares else None
    if groups:
        for kind in ("roc", "pr"):
            if any(g[1] == kind for g in groups):
                charts.append(curve_figure(data, head, kind, groups, report.curves, overall,
                                           type_, vocabulary, baseline_groups))
    calibration = [r for r in overall if tables.row_kind(r) == "calibration"]
    if calibration:
        charts.append(calibration_figure(data, head, calibration,
                                         pooled_classes=type_ == "multi_label"))
    if charts:
        parts.append('<div class="charts">%s</div>' % "".join(charts))
    return "".join(parts)


def _head_section(data, report, index, head, head_rows, counts, behind=None):
    """One head's <section>: summary and charts, then tables; `behind`
    (versus.behind) when `head_rows` are paired with a baseline."""
    type_ = head_type(head, head_rows, report.run)
    vocabulary = tables.class_orders(report.run).get(head)
    overall = [r for r in head_rows if r["slice"] == ""]
    parts = ['<section class="head" id="head-%d" data-head="%s" data-type="%s">'
             % (index, escape(head), escape(type_)),
             _head_summary(data, report, head, head_rows, counts, behind is not None)]
    confusion = [r for r in overall if tables.row_kind(r) == "confusion"]
    if confusion:
        parts.append('<h3>Confusion matrix <span class="hint">overall slice, weighted; '
                     'colour: share of the label\'s row</span></h3>')
        parts.append(confusion_table(confusion, vocabulary))
    pivots = pivot_tables(overall, vocabulary)
    if pivots:
        parts.append('<h3>Per class and per threshold <span class="hint">overall slice'
                     '</span></h3>' + pivots)
    parts.append(all_metrics_table(overall))
    parts.append('<h3>Slices <span class="hint">overall first, then %sby example count'
                 '</span></h3>' % ("those behind the baseline, then " if behind is not None
                                   else ""))
    parts.append(slice_table(head, head_rows, counts, behind))
    parts.append("</section>")
    return "".join(parts)


def _run_section(run):
    """The run facts and config from run.json (a warning when it is missing)."""
    if run is None:
        return ('<section class="run" id="run"><h2>Run</h2><p class="warning">run.json is '
                'missing: this report may be incomplete (run.json is written last).</p>'
                '</section>')
    counts = run.get("counts") or {}
    wall = run.get("wall_seconds")
    read = counts.get("read")
    facts = [("runner", run.get("runner")), ("config file", run.get("config_file")),
             ("output", run.get("output")),
             ("started", format_time(run["started"]) if run.get("started") else None),
             ("finished", format_time(run["finished"]) if run.get("finished") else None),
             ("wall time", None if missing(wall) else "%.1f s" % wall),
             ("records read", fmt_count(read)),
             ("examples evaluated", fmt_count(counts.get("evaluated"))),
             ("examples rejected", fmt_count(counts.get("rejected")))]
    if read and wall and not missing(wall) and wall > 0:
        facts.append(("throughput", "{:,.0f} records/s (whole run)".format(read / wall)))
    for kind, n in sorted((counts.get("rejected_by_kind") or {}).items()):
        facts.append(("rejected: %s" % kind, fmt_count(n)))
    undefined = run.get("undefined_metrics")
    if isinstance(undefined, dict) and undefined.get("rows"):  # NaN: 0/0 on the slice
        by_metric = undefined.get("by_metric")
        by_metric = ", ".join("%s %s" % (k, fmt_count(v)) for k, v in by_metric.items()) \
            if isinstance(by_metric, dict) else ""
        facts.append(("undefined metric values",
                      "%s, shown as – (a zero denominator on the slice, e.g. AUC with one "
                      "class present): %s" % (fmt_count(undefined["rows"]), by_metric)))
    config = run.get("config") or {}
    if config.get("slices") is not None:
        facts.append(("slices", "; ".join(", ".join(s if isinstance(s, list) else s["features"])
                                          or "(overall)" for s in config["slices"])))
    suppressed = run.get("slices_suppressed")
    if isinstance(suppressed, dict) and suppressed.get("count"):
        facts.append(("slices left out", "%s, of fewer than %s examples (min_slice_size)"
                      % (fmt_count(suppressed["count"]), suppressed.get("min_slice_size"))))
    if config.get("input", {}).get("pattern"):
        facts.append(("input", config["input"]["pattern"]))
    if run.get("beam_options"):
        facts.append(("Beam options", " ".join(run["beam_options"])))
    versions = run.get("versions") or {}
    facts.append(("versions", ", ".join("%s %s" % (k, v) for k, v in versions.items())))
    rows = "".join('<tr><th>%s</th><td>%s</td></tr>' % (escape(k), escape(v))
                   for k, v in facts if v not in (None, ""))
    warn = ""
    if counts.get("rejected"):
        warn = ('<p class="warning">%s records were rejected and are not in the metrics '
                '(see rejected/).</p>' % fmt_count(counts["rejected"]))
    return ('<section class="run" id="run"><h2>Run</h2>%s<table class="facts"><tbody>%s'
            '</tbody></table><details><summary>Config (as run)</summary><pre>%s</pre>'
            '</details></section>'
            % (warn, rows, escape(json.dumps(config, indent=2))))


def _arranged(report: Report, extras):
    """(rows in page order, counts, behind, verdict): with a baseline the
    candidate's rows paired with it (versus.paired), `behind` its slices
    behind the baseline ({} none; None: no baseline)."""
    compares = versus.has_baseline(report.rows, extras)
    verdict = versus.verdict(report.run, extras, compares)
    rows, behind = report.rows, None
    if compares:
        rows = [r for r in versus.paired(rows, extras) if not versus.is_baseline(r)]
        behind = versus.behind(rows)
    counts = tables.slice_counts(rows)
    return (tables.order_rows(rows, counts, tables.head_order(report.run), ahead=behind),
            counts, behind, verdict)


def render(report: Report, extras: versus.Extras | None = None) -> str:
    """The HTML page of a loaded `Report` (a str); `extras`: its comparison
    and validation files (versus.load_extras), None when it has none."""
    data = ChartData()
    rows, counts, behind, verdict = _arranged(report, extras)
    heads = list(dict.fromkeys(r["head"] for r in rows))
    sections = [_head_section(data, report, i, h, [r for r in rows if r["head"] == h], counts,
                              behind)
                for i, h in enumerate(heads)]
    nav = "".join('<a href="#head-%d">%s</a>' % (i, escape(h or "(unnamed head)"))
                  for i, h in enumerate(heads)) + '<a href="#run">run</a>'
    if verdict.status is not None:
        nav = '<a href="#validation">validation</a>' + nav
        sections.insert(0, validation_section(verdict))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = _subtitle(report.run) + ["page generated %s" % generated]
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        GENERATOR,
        '<title>headeval report · %s</title>' % escape(report.folder),
        '<style>%s</style></head><body>' % CSS,
        '<header><h1>headeval report</h1><p class="folder">%s</p><p class="subtitle">%s</p>'
        '<nav>%s</nav></header>' % (escape(report.folder), escape(" · ".join(subtitle)), nav),
        '<main>', _curves_warning(report), "".join(sections), _run_section(report.run),
        '</main>',
        '<script type="application/json" id="%s">%s</script>'
        % (DATA_ELEMENT_ID, json_for_script(data.data)),
        '<script>%s</script></body></html>\n' % JS,
    ])


def _subtitle(run) -> list:
    """['599 records', 'run finished ...'] from run.json (which may be None)."""
    run = run or {}
    counts, out = run.get("counts") or {}, []
    if counts.get("read") is not None:
        out.append("%s records" % fmt_count(counts["read"]))
    if counts.get("rejected"):
        out.append("%s rejected (see rejected/)" % fmt_count(counts["rejected"]))
    if run.get("finished"):
        out.append("run finished %s" % format_time(run["finished"]))
    return out


def _curves_warning(report) -> str:
    if report.curves is None:
        return '<p class="warning">curves.parquet is missing: no ROC or PR curves.</p>'
    return ""


NOTEBOOK_CLASS = "headeval-nb"  # the notebook fragment's <div>, scope of its CSS


def render_inline(report: Report, extras: versus.Extras | None = None) -> str:
    """A loaded `Report` as an HTML fragment for a notebook cell
    (`headeval.Report._repr_html_`): per head, the page's summary card and
    ROC, PR and calibration charts, made by the same code. Static: no
    script, nothing fetched, and not the page's JSON block of exact values
    (most of a page's size; each <polyline> has the points to 0.01 px). Its
    CSS is the page's, scoped to the fragment's <div> so the notebook's own
    styles are untouched."""
    data = ChartData()
    rows, counts, behind, verdict = _arranged(report, extras)
    sections = []
    if verdict.status is not None:
        sections.append(validation_section(verdict))
    for head in dict.fromkeys(r["head"] for r in rows):
        head_rows = [r for r in rows if r["head"] == head]
        sections.append('<section class="head" data-head="%s" data-type="%s">%s</section>'
                        % (escape(head), escape(head_type(head, head_rows, report.run)),
                           _head_summary(data, report, head, head_rows, counts,
                                         behind is not None)))
    return "".join([
        '<div class="%s">' % NOTEBOOK_CLASS,
        '<style>%s</style>' % scoped_css(CSS, "." + NOTEBOOK_CLASS),
        '<header><h1>headeval report</h1><p class="folder">%s</p><p class="subtitle">%s</p>'
        '</header>' % (escape(report.folder), escape(" · ".join(_subtitle(report.run)))),
        '<main>', _curves_warning(report), "".join(sections), '</main></div>'])


def scoped_css(css: str, scope: str) -> str:
    """`css` with every rule applying only inside `scope` (a selector): the
    document's own selectors (`:root`, `html`, `body`) become `scope`; the
    rules of an @-block (@media) are scoped in turn."""
    out, i = [], 0
    while i < len(css):
        brace = css.find("{", i)
        if brace < 0:
            break
        selectors = css[i:brace].strip()
        depth, j = 1, brace + 1
        while depth:
            depth += {"{": 1, "}": -1}.get(css[j], 0)
            j += 1
        body = css[brace + 1:j - 1]
        if selectors.startswith("@"):
            out.append("%s{%s}" % (selectors, scoped_css(body, scope)))
        else:
            out.append("%s{%s}" % (",".join(_scoped_selector(s.strip(), scope)
                                            for s in selectors.split(",")), body))
        i = j
    return "\n".join(out)


def _scoped_selector(selector: str, scope: str) -> str:
    first, _, rest = selector.partition(" ")
    if first in (":root", "html", "body"):
        return (scope + " " + rest).strip()
    return scope + " " + selector
