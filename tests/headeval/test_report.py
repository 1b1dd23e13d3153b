"""headeval.load and Report: every report file read back into DataFrames of
the documented dtypes, from a local folder and an object store; `select`
keeps the rows `headeval show` prints; `table` holds show's pivots; the
notebook display is static, self-contained HTML whose curves are
curves.parquet's points, and renders in headless Chromium without a
console message.

Oracles: the files read with pyarrow and json directly, the CLI's own
output, and pandas masks written out by hand.
"""
import html.parser
import json
import math
import os
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import headeval
from pipeline import cli
from pipeline.errors import DamagedReportError, OutputExistsError
from pipeline.io.files import write_table
from pipeline.report.html import charts, page as html_page
from pipeline.report.load import read_metrics_rows
from pipeline.report.schema import (COMPARISON_FILE, CURVES_FILE, METRICS_FILE,
                                    REJECTED_SCHEMA, RUN_FILE, VALIDATION_FILE)
from pipeline.report import versus
from pipeline.report.text import select_rows
from tests.pipeline.report.test_html import CURVE_COLUMNS, _chromium, needs_chromium
from tests.support import fake_object_store

DTYPES = {  # the module docstring of headeval/report.py
    "metrics": {"head": "str", "slice": "str", "metric": "str", "class": "str",
                "threshold": "float64", "value": "float64", "key": "str",
                "model": "str", "average": "str", "k": "Int64", "lower": "float64",
                "upper": "float64", "stderr": "float64", "slice_spec": "str",
                "slice_values": "object"},
    "curves": {"head": "str", "slice": "str", "class": "str", "curve": "str",
               "threshold": "float64", **{c: "float64" for c in
                                          ("tp", "fp", "tn", "fn", "precision", "recall",
                                           "fpr")}, "model": "str"},
    "rejected": {"file": "str", "index": "Int64", "kind": "str", "feature": "str",
                 "reason": "str", "record": "object"},
}


def _comparison_and_validation():
    """comparison.parquet and validation.parquet as a run with a baseline and
    two gates writes them (pipeline.report.comparison and .validation)."""
    from pipeline.config.validation import parse_validation
    from pipeline.report.comparison import comparison_table
    from pipeline.report.schema import BASELINE, METRICS_SCHEMA, rows_to_table
    from pipeline.report.validation import check_gates
    from tests.support.report_files import full_metric_row

    def row(model, slice_, metric, value, cls=None):
        return full_metric_row({"head": "digit", "slice": slice_, "metric": metric,
                                "class": cls, "threshold": None, "value": value,
                                "key": metric + ("/" + cls if cls else ""), "model": model})
    rows = [row(m, s, "auc", v) for m, s, v in (("candidate", "", 0.9), (BASELINE, "", 0.8),
                                                 ("candidate", "ink=dark", 0.7),
                                                 (BASELINE, "ink=dark", 0.0))]
    rows.append(row("candidate", "", "recall", 0.6, cls="3"))
    metrics = rows_to_table(rows, METRICS_SCHEMA)
    comparison = comparison_table(metrics)
    gates = parse_validation([{"metric": "auc", "slices": ["*"], "lower_bound": 0.75},
                              {"metric": "recal", "change": {"relative": -0.1},
                               "direction": "higher"}],
                             has_baseline=True)
    return comparison, check_gates(gates, metrics, comparison)


COMPARISON, VALIDATION = _comparison_and_validation()
REJECTED = [  # two shards, as WriteToParquet names them
    [{"file": "a.tfrecord", "index": 3, "kind": "bad_feature", "feature": "digit",
      "reason": "digit: expected 1 value, got 0", "record": b"\x00\x01"}],
    [{"file": "b.tfrecord", "index": 0, "kind": "corrupt", "feature": None,
      "reason": "bad checksum", "record": b""},
     {"file": "b.tfrecord", "index": 7, "kind": "bad_feature", "feature": "ink",
      "reason": "ink: not a number", "record": b"\xff"}],
]


def _plain(value):
    """A cell as plain Python: NaN and pandas' NA as None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ == "NAType":
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame):
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _file_rows(path):
    return [{k: _plain(v) for k, v in r.items()} for r in pq.read_table(path).to_pylist()]


@pytest.fixture(scope="module")
def full(api_report, tmp_path_factory):
    """A copy of the demo report with every file a report may hold."""
    folder = str(tmp_path_factory.mktemp("full") / "report")
    shutil.copytree(api_report[0], folder)
    os.makedirs(os.path.join(folder, "rejected"), exist_ok=True)
    for i, rows in enumerate(REJECTED):
        write_table(pa.Table.from_pylist(rows, schema=REJECTED_SCHEMA),
                    os.path.join(folder, "rejected", "rejected-%05d-of-00002.parquet" % i))
    write_table(COMPARISON, os.path.join(folder, COMPARISON_FILE))
    write_table(VALIDATION, os.path.join(folder, VALIDATION_FILE))
    return folder


def _check_round_trip(report, folder):
    for name, file in (("metrics", METRICS_FILE), ("curves", CURVES_FILE),
                       ("comparison", COMPARISON_FILE), ("validation", VALIDATION_FILE)):
        frame = getattr(report, name)
        assert _records(frame) == _file_rows(os.path.join(folder, file)), name
    for name, dtypes in DTYPES.items():
        assert {c: str(t) for c, t in getattr(report, name).dtypes.items()} == dtypes, name
    assert _records(report.rejected) == [r for shard in REJECTED for r in shard]
    assert {c: str(t) for c, t in report.comparison.dtypes.items()} == {
        "head": "str", "slice": "str", "slice_spec": "str", "metric": "str", "class": "str",
        "threshold": "float64", "average": "str", "k": "Int64", "key": "str",
        **{c: "float64" for c in ("candidate", "baseline", "delta", "relative",
                                  "delta_lower", "delta_upper")}}
    assert {c: str(t) for c, t in report.validation.dtypes.items()} == {
        "gate": "Int64", "gate_text": "str", "head": "str", "slice": "str", "metric": "str",
        "class": "str", "threshold": "float64", "key": "str", "value": "float64",
        "baseline": "float64", "bound": "float64", "kind": "str", "passed": "boolean",
        "reason": "str"}
    # the values, by hand: delta 0.9 - 0.8, relative null at a baseline of 0
    overall = report.comparison[report.comparison["slice"] == ""].iloc[0]
    assert overall["delta"] == pytest.approx(0.1) and overall["relative"] == pytest.approx(0.125)
    dark = report.comparison[report.comparison["slice"] == "ink=dark"].iloc[0]
    assert math.isnan(dark["relative"]) and dark["delta"] == pytest.approx(0.7)
    assert list(report.validation["passed"]) == [True, False, False]
    with open(os.path.join(folder, RUN_FILE)) as f:
        assert report.run == json.load(f)


def test_load_reads_every_file(full):
    _check_round_trip(headeval.load(full), full)


def test_load_from_an_object_store(full, tmp_path):
    """Any Beam filesystem: here fakegs://, a local stand-in for gs://."""
    fake_object_store.use_root(str(tmp_path))
    shutil.copytree(full, str(tmp_path / "bucket" / "report"))
    report = headeval.load("fakegs://bucket/report")
    assert report.folder == "fakegs://bucket/report"
    _check_round_trip(report, full)


def test_a_report_without_the_optional_files(api_report, tmp_path):
    folder = str(tmp_path / "report")
    shutil.copytree(api_report[0], folder)
    for name in (CURVES_FILE, COMPARISON_FILE, VALIDATION_FILE):  # the demo has a baseline
        if os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    report = headeval.load(folder)
    assert report.curves is None and report.comparison is None and report.validation is None
    assert len(report.rejected) == 0 and list(report.rejected.columns) == REJECTED_SCHEMA.names
    assert "curves.parquet is missing" in report._repr_html_()


@pytest.mark.parametrize("name", [COMPARISON_FILE, "rejected/rejected-00000-of-00001.parquet"])
def test_a_damaged_file_is_named(api_report, tmp_path, name):
    folder = str(tmp_path / "report")
    shutil.copytree(api_report[0], folder)
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"PAR1 not parquet")
    with pytest.raises(DamagedReportError, match=re.escape(path) + " is damaged"):
        headeval.load(folder)


# -- select and table ----------------------------------------------------------------

FILTERS = [
    {"head": ["digit"], "metric": ["auc"]},
    {"slice": ["overall"]},
    {"slice": ["stroke=*"], "metric": ["precision/*"]},
    {"head": ["p*", "ink"], "slice": ["stroke=thin"]},
    {"metric": ["accuracy/top_2", "recall"]},
]


def _key(row):
    return tuple((k, (v is None, v if v is not None else 0)) for k, v in sorted(row.items()))


@pytest.mark.parametrize("filters", FILTERS)
def test_select_keeps_the_rows_show_prints(api_report, capsys, filters):
    folder, report = api_report
    argv = ["show", folder, "--format", "json"]
    for option, patterns in filters.items():
        argv += [a for p in patterns for a in ("--" + option, p)]
    assert cli.main(argv) == 0
    # show prints the candidate's rows, with the baseline's value and the change beside
    shown = [{k: v for k, v in r.items() if k not in versus.COMPARED}
             for r in json.loads(capsys.readouterr().out)]
    got = _records(report.select(**filters))
    assert got, filters
    assert sorted(got, key=_key) == sorted(shown, key=_key)
    expected = select_rows(read_metrics_rows(folder), filters.get("head"),
                           filters.get("slice"), filters.get("metric"))
    assert got == [{k: _plain(v) for k, v in r.items()} for r in expected
                   if r["model"] == "candidate"]  # file order
    both = _records(report.select(**filters, model=None))
    assert both == [{k: _plain(v) for k, v in r.items()} for r in expected]


def test_select_by_class_and_threshold(api_report):
    m = api_report[1].metrics
    m = m[m["model"] == "candidate"]  # select's default, as show's
    got = api_report[1].select(head="digit", slice="overall", cls="t*")
    mask = (m["head"] == "digit") & (m["slice"] == "") & m["class"].isin(["two", "three"])
    assert _records(got) == _records(m[mask])
    got = api_report[1].select(head="properties", threshold=0.5)
    assert len(got) and _records(got) == _records(m[(m["head"] == "properties")
                                                    & (m["threshold"] == 0.5)])
    edges = sorted(set(m.loc[m["metric"] == "calibration/weight", "threshold"]))[:3]
    got = api_report[1].select(metric="calibration/*", threshold=[e + 1e-12 for e in edges])
    mask = m["metric"].str.startswith("calibration/") & m["threshold"].isin(edges)
    assert len(got) and _records(got) == _records(m[mask])


def test_table_holds_shows_pivots(api_report):
    report = api_report[1]
    m = report.metrics
    t = report.table(slice="overall")
    heads = [h["name"] for h in report.run["config"]["heads"]]
    assert list(dict.fromkeys(k[0] for k in t)) == heads  # config order
    assert {k[1] for k in t} == {""}

    def value(head, key):
        hit = m[(m["head"] == head) & (m["slice"] == "") & (m["key"] == key)
                & (m["model"] == "candidate")]["value"]
        assert len(hit) == 1, key
        return hit.iloc[0]

    classes = report.run["config"]["heads"][1]["label_vocabulary"]
    per_class = t[("digit", "", "class")]
    assert list(per_class.index) == classes  # vocabulary order, as show prints
    for c in classes:
        assert per_class.loc[c, "auc"] == value("digit", "auc/" + c)
    confusion = t[("digit", "", "confusion")]
    assert list(confusion.index) == list(confusion.columns) == classes
    for a in classes:
        for b in classes:
            assert confusion.loc[a, b] == value("digit", "confusion_matrix/%s/%s" % (a, b))
    scalar = t[("ink", "", "scalar")]
    assert scalar.loc["example_count", "value"] == 599
    # The demo's baseline (issue 18): a table holds one model's values.
    base = report.table(slice="overall", model="baseline")[("ink", "", "scalar")]
    hit = m[(m["head"] == "ink") & (m["slice"] == "") & (m["key"] == "average_loss")
            & (m["model"] == "baseline")]["value"]
    assert len(hit) == 1 and base.loc["average_loss", "value"] == hit.iloc[0]
    assert base.loc["average_loss", "value"] != scalar.loc["average_loss", "value"]
    assert scalar.loc["average_loss", "value"] == value("ink", "average_loss")
    by_threshold = [k for k in t if k[2] in ("threshold", "class_threshold")]
    assert by_threshold
    for k in by_threshold:
        for index, row in t[k].iterrows():
            c, threshold = index if k[2] == "class_threshold" else (None, index)
            assert isinstance(threshold, float)
            hits = m[(m["head"] == k[0]) & (m["slice"] == "") & (m["threshold"] == threshold)
                     & (m["class"].isna() if c is None else m["class"] == c)
                     & (m["model"] == "candidate")]
            # a cell's column is its key without the class and the threshold part
            by_column = {"/".join(p for p in key.split("/")
                                  if not p.startswith("positive_threshold_") and p != c): v
                         for key, v in zip(hits["key"], hits["value"])}
            for column, v in row.items():
                assert _plain(v) == _plain(by_column.get(column)), (k, index, column)
    # Filters narrow the tables as they narrow select's rows.
    only = report.table(head="digit", slice="stroke=thin", metric="auc")
    assert list(only) == [("digit", "stroke=thin", "class")]
    assert list(only.values())[0].columns.tolist() == ["auc"]


def test_to_html_writes_the_page(api_report, tmp_path):
    out = str(tmp_path / "page.html")
    assert api_report[1].to_html(out) == out
    with open(out, encoding="utf-8") as f:
        assert html_page.GENERATOR in f.read(1000)
    other = tmp_path / "notes.html"
    other.write_text("mine")
    with pytest.raises(OutputExistsError):
        api_report[1].to_html(str(other))
    assert other.read_text() == "mine"


# -- the notebook display ------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


class _Fragment(html.parser.HTMLParser):
    """Checks nesting (every element closed, in order) and collects what
    the tests look at: links, figures, polylines and legend labels."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.links, self.tags = [], [], [], []
        self.figures, self._legend = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.links += [a[n] for n in ("src", "href") if n in a]
        if tag == "figure":
            self.figures.append(dict(a, polylines=[], legend={}))
        elif tag == "svg" and self.figures:
            self.figures[-1]["plot"] = [float(v) for v in a["data-plot"].split()]
        elif tag == "li" and self.figures and "data-series" in a:
            self._legend = a["data-series"]
            self.figures[-1]["legend"][self._legend] = ""
        elif tag == "span" and self._legend:
            self._legend = None if "legend-value" in (a.get("class") or "") else self._legend
        if tag == "polyline":
            self.figures[-1]["polylines"].append(a)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1:]))
        else:
            self.stack.pop()
        if tag == "li":
            self._legend = None

    def handle_data(self, data):
        if self._legend:
            self.figures[-1]["legend"][self._legend] += data


@pytest.fixture(scope="module")
def fragment(api_report):
    text = api_report[1]._repr_html_()
    parsed = _Fragment()
    parsed.feed(text)
    parsed.close()
    return text, parsed


def test_repr_is_well_formed_and_self_contained(fragment):
    text, parsed = fragment
    assert parsed.errors == [] and parsed.stack == []
    assert parsed.tags[0] == "div" and text.endswith("</div>")
    assert not ({"script", "link", "img", "iframe", "object", "embed"} & set(parsed.tags))
    assert parsed.links == []
    assert not re.search(r"https?://|url\(|@import", text)
    css = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    selectors = re.findall(r"(?:^|})\s*([^{}@]+)\{", css)
    assert selectors and all(s.strip().startswith(".%s" % html_page.NOTEBOOK_CLASS)
                             for sel in selectors for s in sel.split(","))


def test_repr_curves_are_curves_parquet(fragment, api_report):
    """Each polyline's vertices, mapped back through its chart's frame, are
    the curve's rows of curves.parquet (overall slice), to the 0.01 px they
    are written with; every curve of the overall slice is drawn once."""
    _, parsed = fragment
    curves = api_report[1].curves
    expected = {}
    for r in _records(curves[curves["slice"] == ""]):  # both models: the demo has a baseline
        expected.setdefault((r["head"], r["class"], r["curve"], r["model"]), []).append(r)
    types = {h["name"]: h["type"] for h in api_report[1].run["config"]["heads"]}
    drawn = set()
    for fig in parsed.figures:
        if fig["data-chart"] not in CURVE_COLUMNS:
            continue
        left, top, width, height = fig["plot"]
        pooled = charts.class_label(None, types[fig["data-head"]])
        for line in fig["polylines"]:
            model = line.get("data-model", "candidate")
            label = fig["legend"][line["data-series"]].removesuffix(" (%s)" % model)
            key = (fig["data-head"], None if label == pooled else label, fig["data-chart"],
                   model)
            assert key not in drawn
            drawn.add(key)
            x_col, y_col = CURVE_COLUMNS[key[2]]
            points = [(r[x_col], r[y_col]) for r in expected[key]]
            vertices = [tuple(map(float, v.split(","))) for v in line["points"].split()]
            assert len(vertices) == len(points) > 1
            for (vx, vy), (x, y) in zip(vertices, points):
                assert abs(vx - (left + width * x)) <= 0.006
                assert abs(vy - (top + height * (1 - y))) <= 0.006
    assert drawn == set(expected)


def test_repr_has_a_summary_and_charts_per_head(fragment, api_report):
    text, parsed = fragment
    heads = [h["name"] for h in api_report[1].run["config"]["heads"]]
    assert re.findall(r'<section class="head" data-head="([^"]*)"', text) == heads
    assert text.count('class="card"') == len(heads)
    kinds = [(f["data-head"], f["data-chart"]) for f in parsed.figures]
    assert ("properties", "calibration") in kinds and ("digit", "roc") in kinds
    assert "599 records" in text


@needs_chromium
def test_repr_renders_in_chromium(fragment, tmp_path):
    """In a page of its own (as a notebook's output area holds it): no
    console message, and the curves are drawn."""
    from PIL import Image

    page = tmp_path / "repr.html"
    page.write_text('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t'
                    '</title></head><body>%s</body></html>' % fragment[0], encoding="utf-8")
    shot = tmp_path / "repr.png"
    dom, console, proc = _chromium(str(page), str(shot), window="1280,1400")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert console == [], "console messages: %s" % console
    assert dom.count('<svg class="chart"') == len(fragment[1].figures)
    orange = tuple(int(charts.PALETTE[1][i:i + 2], 16) for i in (1, 3, 5))
    raw = Image.open(shot).convert("RGB").tobytes()
    near = sum(1 for i in range(0, len(raw), 3)
               if abs(raw[i] - orange[0]) + abs(raw[i + 1] - orange[1])
               + abs(raw[i + 2] - orange[2]) < 40)
    assert near > 200, "few chart pixels (%d) in the screenshot" % near
