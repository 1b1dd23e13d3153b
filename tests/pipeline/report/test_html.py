"""pipeline.report.html: the HTML report of the demo, read back and opened in
headless Chromium; the slice test on made-up data; progress during a run.

The demo runs once for the module (in-process FnApiRunner, a few seconds).
The oracles are the report files read with pyarrow and json directly, the
demo's documented facts (599 records) and hand-computed statistics.
"""
import contextlib
import html.parser
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile

import pyarrow.parquet as pq
import pytest

from pipeline.errors import OutputExistsError
from pipeline.report.html import charts, page as html_page, stats
from pipeline.runtime import progress
from pipeline.report.schema import METRICS_FILE, RUN_FILE
from tests.support.report_files import write_complete

DEMO_RECORDS = 599  # pipeline/demo.py: scikit-learn's digits test split
CHROMIUM = os.environ.get("HEADEVAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]
CURVE_COLUMNS = {"roc": ("fpr", "recall"), "pr": ("recall", "precision")}


# -- the demo report ----------------------------------------------------------------

class _Page(html.parser.HTMLParser):
    """The parts of the page the tests look at: sections, polylines, tables,
    the JSON data block, and every src/href."""

    def __init__(self):
        super().__init__()
        self.sections, self.polylines, self.links, self.tables = [], [], [], []
        self.data_text, self._in_data, self._section = None, False, None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("src", "href"):
            if name in a:
                self.links.append(a[name])
        if tag == "section" and "head" in (a.get("class") or "").split():
            self._section = dict(a, svgs=[])
            self.sections.append(self._section)
        elif tag == "svg" and "chart" in (a.get("class") or "") and self._section is not None:
            self._section["svgs"].append(a)
        elif tag == "polyline":
            self.polylines.append(dict(a, head=self._section and self._section["data-head"],
                                       svg=self._section and self._section["svgs"][-1]))
        elif tag == "script" and a.get("id") == html_page.DATA_ELEMENT_ID:
            self._in_data, self.data_text = True, ""
        elif tag == "table":
            self.tables.append({"class": a.get("class"), "rows": [],
                                "head": self._section and self._section["data-head"]})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append(dict(a, cells=[]))
        elif tag in ("td", "th") and self.tables and self.tables[-1]["rows"]:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_data = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1]["cells"].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._in_data:
            self.data_text += data
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's report folder and its rendered page, parsed. The run is made
    with progress forced on (every batch) and stderr captured, for
    test_progress_lines_during_the_demo_run."""
    from pipeline.demo import run_demo

    out = str(tmp_path_factory.mktemp("html") / "demo")
    saved = {k: os.environ.get(k) for k in (progress.ENV, progress.INTERVAL_ENV)}
    os.environ[progress.ENV], os.environ[progress.INTERVAL_ENV] = "1", "0"
    progress.reset()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            run_demo(out, beam_argv=["--runner=FnApiRunner"], show=False)
    finally:
        progress.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    path = html_page.write_report(out)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    page = _Page()
    page.feed(text)
    with open(os.path.join(out, RUN_FILE)) as f:
        run = json.load(f)
    return type("Demo", (), dict(
        folder=out, path=path, html=text, page=page, data=json.loads(page.data_text), run=run,
        # the candidate's rows: the page's tables hold its numbers (the demo has a baseline)
        metrics=[r for r in pq.read_table(os.path.join(out, METRICS_FILE)).to_pylist()
                 if r["model"] == "candidate"],
        curves=pq.read_table(os.path.join(out, "curves.parquet")).to_pylist(),
        stderr=err.getvalue()))


def _same(a, b):
    """Equal, with NaN (Parquet) matching null (JSON)."""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None
    return a == b


def test_one_section_per_head_in_config_order(demo):
    heads = [h["name"] for h in demo.run["config"]["heads"]]
    assert {r["head"] for r in demo.metrics} == set(heads)
    assert [s["data-head"] for s in demo.page.sections] == heads
    assert [s["data-type"] for s in demo.page.sections] == [
        h["type"] for h in demo.run["config"]["heads"]]


def test_curve_points_equal_curves_parquet(demo):
    expected = {}
    for r in demo.curves:
        if r["slice"] == "":
            expected.setdefault((r["head"], r["class"], r["curve"], r["model"]), []).append(r)
    got = {(c["head"], c["class"], c["curve"], c.get("model", "candidate")): c
           for c in demo.data["curves"]}
    # every curve of the overall slice, no other (the demo has a baseline: both models')
    assert set(got) == set(expected)
    assert {key[3] for key in got} == {"candidate", "baseline"}
    for key, rows in expected.items():
        c = got[key]
        x_col, y_col = CURVE_COLUMNS[key[2]]
        assert all(_same(r["threshold"], t) for r, t in zip(rows, c["threshold"]))
        assert all(_same(r[x_col], x) for r, x in zip(rows, c["x"]))
        assert all(_same(r[y_col], y) for r, y in zip(rows, c["y"]))
        assert len(rows) == len(c["threshold"]) == len(c["x"]) == len(c["y"])


def test_polylines_draw_the_curve_points(demo):
    """Each curve's <polyline> has one vertex per curves.parquet row; mapped
    back through the chart's data-plot frame they are the points (to the
    0.01 px the coordinates are written with)."""
    by_id = {c["id"]: c for c in demo.data["curves"]}
    drawn = [p for p in demo.page.polylines if p["data-series"] in by_id]
    assert {p["data-series"] for p in drawn} == set(by_id)
    for p in drawn:
        curve = by_id[p["data-series"]]
        assert p["head"] == curve["head"]
        left, top, width, height = map(float, p["svg"]["data-plot"].split())
        vertices = [tuple(map(float, v.split(","))) for v in p["points"].split()]
        points = [(x, y) for x, y in zip(curve["x"], curve["y"])
                  if x is not None and y is not None]
        assert len(vertices) == len(points)
        for (vx, vy), (x, y) in zip(vertices, points):
            assert abs(vx - (left + width * x)) <= 0.006
            assert abs(vy - (top + height * (1 - y))) <= 0.006


def test_calibration_points_equal_the_metrics(demo):
    for c in demo.data["calibration"]:
        rows = {(r["metric"], r["threshold"]): r["value"] for r in demo.metrics
                if r["head"] == c["head"] and r["slice"] == ""
                and r["metric"].startswith("calibration/")}
        buckets = sorted(t for m, t in rows if m == "calibration/weight"
                         and rows[(m, t)] > 0)
        assert c["bucket"] == buckets
        assert c["x"] == [rows[("calibration/prediction_mean", b)] for b in buckets]
        assert c["y"] == [rows[("calibration/label_mean", b)] for b in buckets]
        assert c["weight"] == [rows[("calibration/weight", b)] for b in buckets]
    with_calibration = {r["head"] for r in demo.metrics if r["metric"].startswith("calibration/")}
    assert {c["head"] for c in demo.data["calibration"]} == with_calibration


def test_confusion_matrix_cells_equal_the_metrics(demo):
    multi_class = [h["name"] for h in demo.run["config"]["heads"] if h["type"] == "multi_class"]
    tables = [t for t in demo.page.tables if t["class"] == "confusion"]
    assert [t["head"] for t in tables] == multi_class
    for table in tables:
        head = table["head"]
        vocabulary = next(h["label_vocabulary"] for h in demo.run["config"]["heads"]
                          if h["name"] == head)
        header, body = table["rows"][0]["cells"], table["rows"][1:]
        assert header[1:-1] == vocabulary and [r["cells"][0] for r in body] == vocabulary
        expected = {r["key"]: r["value"] for r in demo.metrics
                    if r["head"] == head and r["slice"] == ""
                    and r["metric"] == "confusion_matrix"}
        for r in body:
            label = r["cells"][0]
            for predicted, text in zip(vocabulary, r["cells"][1:-1]):
                value = expected["confusion_matrix/%s/%s" % (label, predicted)]
                assert float(text.replace(",", "")) == pytest.approx(value, abs=5e-4)


def test_slice_tables_overall_first_then_by_example_count(demo):
    counts = {(r["head"], r["slice"]): r["value"] for r in demo.metrics
              if r["metric"] == "example_count"}
    tables = [t for t in demo.page.tables if t["class"] == "slices"]
    assert len(tables) == len(demo.page.sections)
    for table in tables:
        slices = [r["data-slice"] for r in table["rows"][1:]]
        expected = sorted((s for h, s in counts if h == table["head"]),
                          key=lambda s: (s != "", -counts[(table["head"], s)]))
        assert slices == expected
        assert [r["cells"][1] for r in table["rows"][1:]] == [
            "{:,.0f}".format(counts[(table["head"], s)]) for s in slices]


def test_run_facts(demo):
    facts = {r["cells"][0]: r["cells"][1] for t in demo.page.tables if t["class"] == "facts"
             for r in t["rows"]}
    assert facts["records read"] == "{:,}".format(DEMO_RECORDS)
    assert facts["examples evaluated"] == "{:,}".format(DEMO_RECORDS)
    assert facts["runner"] == "FnApiRunner"
    assert demo.run["config_file"] == facts["config file"]


def test_self_contained(demo):
    """Nothing to fetch: no src/href but in-page anchors, no stylesheet links,
    no url(...) or @import in the CSS."""
    assert all(link.startswith("#") for link in demo.page.links), demo.page.links
    assert "<link" not in demo.html and "<img" not in demo.html and "<iframe" not in demo.html
    assert "url(" not in demo.html and "@import" not in demo.html
    assert not re.search(r"https?://", demo.html.split('id="headeval-data"')[0])


def test_progress_lines_during_the_demo_run(demo):
    """EvaluateBatches reports the records it reads (forced on, every batch)."""
    lines = [line for line in demo.stderr.splitlines() if line.startswith("headeval: ")]
    assert lines, demo.stderr[-2000:]
    assert "{:,} records read".format(DEMO_RECORDS) in lines[-1]
    assert "examples/s" in lines[-1]


# -- the slice test ----------------------------------------------------------------

def test_worse_than_rest_is_the_two_proportion_z_test():
    # slice: 80 of 100 right; rest: 180 of 200; overall 260 / 300 (no weights).
    # pooled p = 13/15; se = sqrt(13/15 * 2/15 * (1/100 + 1/200)) = 0.0416333;
    # z = (0.8 - 0.9) / se = -2.40192; one-sided p = Phi(z) = 0.0081549.
    result = stats.worse_than_rest(0.8, 100, 100, 260 / 300, 300, 300)
    assert result["rest"] == pytest.approx(0.9)
    assert result["z"] == pytest.approx(-2.40192, abs=1e-5)
    assert result["p"] == pytest.approx(0.0081549, abs=1e-6)
    # too few failures expected in the slice (5 examples): no test
    assert stats.worse_than_rest(0.8, 5, 5, 0.86, 300, 300) is None
    assert stats.worse_than_rest(0.9, 300, 300, 0.9, 300, 300) is None  # no rest


def _made_up_report(folder):
    """A binary head; slice g=a (1,000 examples, accuracy 0.60) is far worse than
    g=b (1,000, 0.90); g=<c&d> (a value to escape) holds 4 examples."""
    def r(slice_, metric, value):
        return {"head": "", "slice": slice_, "metric": metric, "class": None,
                "threshold": None, "value": value, "key": metric}
    rows = []
    for s, n, acc in (("", 2004, 0.75), ("g=a", 1000, 0.60), ("g=b", 1000, 0.90),
                      ("g=<c&d>", 4, 0.75)):
        rows += [r(s, "accuracy", acc), r(s, "example_count", n),
                 r(s, "weighted_example_count", n)]
    os.makedirs(folder)
    write_complete(folder, rows, config={"heads": [{"name": None, "type": "binary"}],
                                         "slices": [[], ["g"]]})


def test_slice_table_flags_the_worse_slice(tmp_path):
    folder = str(tmp_path / "made_up")
    _made_up_report(folder)
    text = html_page.render_report(folder)
    page = _Page()
    page.feed(text)
    table = next(t for t in page.tables if t["class"] == "slices")
    rows = {r["data-slice"]: r for r in table["rows"][1:]}
    assert list(rows) == ["", "g=a", "g=b", "g=<c&d>"]
    assert rows["g=a"]["class"] == "worse" and "significantly worse" in rows["g=a"]["cells"]
    assert rows["g=b"]["class"] == "" and rows["g=<c&d>"]["class"] == ""
    assert "too few to test" in rows["g=<c&d>"]["cells"]
    assert rows[""]["class"] == "overall"
    assert "<c&d>" not in text and "g=&lt;c&amp;d&gt;" in text  # escaped


def _data_file(folder, name):
    """(path, bytes) of report data file `name` in `folder`, made if absent."""
    target = os.path.join(folder, name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.exists(target):
        with open(target, "wb") as f:
            f.write(b"data")
    with open(target, "rb") as f:
        return target, f.read()


@pytest.mark.parametrize("name", [METRICS_FILE, RUN_FILE, "curves.parquet",
                                  os.path.join("rejected", "part-0.parquet")])
def test_out_never_overwrites_the_reports_own_files(tmp_path, name):
    """`report --out` naming one of the report's data files is refused, even
    with --overwrite, and the file is untouched (it once replaced
    metrics.parquet with the page)."""
    folder = str(tmp_path / "made_up")
    _made_up_report(folder)
    target, before = _data_file(folder, name)
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="the report's own"):
            html_page.write_report(folder, target, overwrite=overwrite)
    assert open(target, "rb").read() == before


def test_out_replaces_another_file_only_with_overwrite(tmp_path):
    """An existing file that is not a headeval page is kept unless
    --overwrite; a page of ours is replaced (re-rendering is the normal
    case)."""
    folder = str(tmp_path / "made_up")
    _made_up_report(folder)
    other = tmp_path / "notes.html"
    other.write_text("<p>my notes</p>")
    with pytest.raises(OutputExistsError, match="not a headeval HTML report.*--overwrite"):
        html_page.write_report(folder, str(other))
    assert other.read_text() == "<p>my notes</p>"
    ours = html_page.write_report(folder)  # DIR/report.html
    html_page.write_report(folder)         # again: our own page is replaced
    assert html_page.GENERATOR in open(ours).read()
    html_page.write_report(folder, str(other), overwrite=True)
    assert html_page.GENERATOR in other.read_text()
    with pytest.raises(OutputExistsError, match="is a folder"):
        html_page.write_report(folder, str(tmp_path))


# -- in a real browser ----------------------------------------------------------------

def _chromium(page_path, screenshot, window="1280,2000"):
    """Opens `page_path` in headless Chromium: (DOM after scripts ran,
    console lines, the process)."""
    profile = tempfile.mkdtemp(prefix="headeval-chromium-")
    try:
        proc = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, "--user-data-dir=%s" % profile,
             "--screenshot=%s" % screenshot, "--window-size=%s" % window,
             "--virtual-time-budget=5000", "--dump-dom", "file://%s" % page_path],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console, proc


needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("HEADEVAL_REQUIRE_CHROMIUM"),
    reason="%s not found: install Debian's chromium (apt-get install chromium) to open the "
           "report in a real browser (.ci/run does)" % CHROMIUM)


@needs_chromium
def test_console_errors_are_seen(tmp_path):
    """The check below can fail: a page with a script error shows up."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><svg class='chart'></svg>"
                   "<script>undefinedFunction();</script></body></html>")
    _, console, proc = _chromium(str(bad), str(tmp_path / "bad.png"), window="400,300")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any("undefinedFunction" in line for line in console), proc.stderr[-3000:]


@needs_chromium
def test_report_renders_in_chromium(demo, tmp_path):
    from PIL import Image  # Pillow: an Apache Beam dependency

    shot = tmp_path / "report.png"
    dom, console, proc = _chromium(demo.path, str(shot))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert console == [], "console messages: %s" % console
    expected_charts = 2 * len({r["head"] for r in demo.curves}) + len(
        {r["head"] for r in demo.metrics if r["metric"].startswith("calibration/")})
    assert dom.count('<svg class="chart"') == expected_charts
    assert re.search(r'<html[^>]* %s="%d"' % (html_page.CHARTS_ATTRIBUTE, expected_charts),
                     dom), dom[:500]  # the inline script ran to its end
    html_tag = re.search(r"<html[^>]*>", dom).group(0)
    assert html_page.ERROR_ATTRIBUTE not in html_tag, html_tag  # window.onerror saw nothing
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    # The first head's class curves are drawn in the palette's colours: count
    # the pixels of the second one (orange, used by nothing else on the page).
    orange = tuple(int(charts.PALETTE[1][i:i + 2], 16) for i in (1, 3, 5))
    raw = image.tobytes()
    near = sum(1 for i in range(0, len(raw), 3)
               if abs(raw[i] - orange[0]) + abs(raw[i + 1] - orange[1])
               + abs(raw[i + 2] - orange[2]) < 40)
    assert near > 200, "few chart pixels (%d) in the screenshot" % near


@pytest.mark.parametrize("name", [METRICS_FILE, RUN_FILE, "curves.parquet",
                                  os.path.join("rejected", "part-0.parquet")])
def test_out_never_overwrites_another_reports_data(tmp_path, name):
    """`report A --out B/metrics.parquet --overwrite` replaced report B's data
    with a page: only A's own files were protected."""
    folder, other = str(tmp_path / "a"), str(tmp_path / "b")
    _made_up_report(folder)
    _made_up_report(other)
    target, before = _data_file(other, name)
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="of the headeval report %s;" % other):
            html_page.write_report(folder, target, overwrite=overwrite)
    assert open(target, "rb").read() == before
    # A folder without our run.json is no report: its files are the user's to replace.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / METRICS_FILE).write_bytes(b"x")
    html_page.write_report(folder, str(plain / METRICS_FILE), overwrite=True)
    assert html_page.GENERATOR in (plain / METRICS_FILE).read_text()
