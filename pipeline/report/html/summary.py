"""What a head reports, picked out for the page: its type, the key metrics
of the summary card, and the aggregate rows that the card, the slice table
and the slice test (pipeline.report.html.stats) look up the same way."""
from pipeline.report.html.markup import escape, fmt, fmt_count
from pipeline.report.html.versus_view import (error_bar, has_interval, interval_text, scale,
                                              versus_line)

SUMMARY_KEYS = ("accuracy", "auc", "auc_precision_recall", "precision", "recall", "f1",
                "average_loss", "root_mean_squared_error", "mean_absolute_error", "r_squared",
                "label/mean", "prediction/mean", "accuracy_baseline", "loss")


def head_configs(run: dict | None) -> dict:
    """{report head name: its config entry} from run.json."""
    heads = ((run or {}).get("config") or {}).get("heads") or []
    out = {}
    for h in heads:
        if len(heads) == 1:
            out[""] = h
        if h.get("name"):
            out[h["name"]] = h
    return out


def head_type(head: str, rows: list[dict], run: dict | None) -> str:
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


def aggregate_row(rows: list[dict], key: str) -> dict | None:
    """The row of `key` with no class and no threshold, or None."""
    for r in rows:
        if r["key"] == key and r["class"] is None and r["threshold"] is None:
            return r
    return None


def at_middle_threshold(rows: list[dict], metric: str) -> dict | None:
    """The aggregate row of `metric` at threshold 0.5, else the nearest one."""
    candidates = [r for r in rows if r["metric"] == metric and r["class"] is None
                  and r["threshold"] is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (abs(r["threshold"] - 0.5), r["threshold"]))


def summary_rows(rows: list[dict]) -> list[tuple[str, dict]]:
    """[(label, row)]: the key metrics of one slice, SUMMARY_KEYS order;
    a metric reported only per threshold is taken at 0.5 (or the nearest)."""
    out = []
    for key in SUMMARY_KEYS:
        row = aggregate_row(rows, key)
        label = key
        if row is None:
            row = at_middle_threshold(rows, key)
            if row is not None:
                label = "%s @ %g" % (key, row["threshold"])
        if row is not None:
            out.append((label, row))
    return out


def summary_card(overall_rows: list[dict], counts: dict, type_: str,
                 vocabulary: list[str] | None) -> str:
    """The key metrics of the overall slice as a card of tiles; `counts`:
    its counts (pipeline.report.tables.slice_counts). Rows paired with a
    baseline (pipeline.report.versus.paired) add the baseline's value and
    the delta under each; rows with an interval add it and an error bar
    (the baseline's value the dashed tick)."""
    tiles = []
    n, w = counts.get("example_count"), counts.get("weighted_example_count")
    tiles.append(('examples', fmt_count(n)))
    if w is not None and w != n:
        tiles.append(('weighted examples', fmt_count(w)))
    for label, row in summary_rows(overall_rows):
        tiles.append((label, fmt(row["value"]), row))
    facts = type_.replace("_", "-")
    if vocabulary:
        facts += " · %d classes" % len(vocabulary)
    compares = any("change" in row for row in overall_rows)
    return ('<div class="card"><div class="card-title">Overall · %s%s</div><dl class="tiles">%s'
            '</dl></div>' % (escape(facts), " · candidate against baseline" if compares else "",
                             "".join(_tile(*t) for t in tiles)))


def _tile(label, text, row=None):
    """One tile: the value, then its interval and the baseline line when
    the row has them."""
    more = ""
    if row is not None and has_interval(row):
        baseline = row.get("baseline")
        more += '<div class="ci-text">%s %s</div>' % (
            escape(interval_text(row)), error_bar(row, scale([row], baseline), baseline))
    if row is not None and "change" in row and row.get("baseline") is not None:
        more += versus_line(row)
    if not more:
        return ('<div class="tile" data-metric="%s"><dt>%s</dt><dd>%s</dd></div>'
                % (escape(label), escape(label), escape(text)))
    return ('<div class="tile" data-metric="%s"><dt>%s</dt><dd><span class="value" '
            'data-value="%r">%s</span>%s</dd></div>'
            % (escape(label), escape(label), float(row["value"]), escape(text), more))
