"""The HTML report of a two-model report with gates and intervals, read
back: the numbers shown are the files', failed gates come first, both
models' curves are drawn, error bars appear exactly when the report has
intervals, the interval flag marks the slice whose interval lies below the
overall value; and the page opens in headless Chromium without errors.

Made-up reports (tests/support/versus_files.py, hand-chosen numbers); the
oracle is those numbers and plain subtraction.
"""
import os
import re

import pytest

from pipeline.report.html import page as html_page
from tests.pipeline.report.test_html import _chromium, _Page, needs_chromium
from tests.support import versus_files as vf


def _render(folder):
    text = html_page.render_report(folder)
    parsed = _Page()
    parsed.feed(text)
    return text, parsed


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """{name: (folder, html, parsed)}: gates without intervals, intervals
    without gates or comparison.parquet."""
    root = tmp_path_factory.mktemp("html_versus")
    out = {}
    for name, kwargs in (("gates", {}), ("ci", {"intervals": True, "gates": False,
                                                "comparison": False})):
        folder = str(root / name)
        vf.write_versus(folder, **kwargs)
        out[name] = (folder, *_render(folder))
    return out


def test_validation_section_first_failed_gates_first(pages):
    _, text, page = pages["gates"]
    assert text.index('id="validation"') < text.index('class="head"')
    assert re.search(r'data-status="NOT_BLESSED">NOT_BLESSED: 1 of 2 gates failed<', text)
    table = next(t for t in page.tables if t["class"] == "gates")
    body = table["rows"][1:]
    expected = vf.validation_rows()
    assert len(body) == len(expected)
    failed = [r for r in expected if not r["passed"]]
    assert [r["class"] for r in body] == ["failed"] * len(failed) + ["passed"] * (
        len(expected) - len(failed))
    first = body[0]["cells"]
    assert first[1] == "FAILED" and first[3] == failed[0]["slice"]
    assert float(first[5]) == failed[0]["value"] and first[-1] == failed[0]["reason"]
    _, ci_text, _ = pages["ci"]
    assert 'data-status="no gates"' in ci_text  # a baseline and no gates: said so


def test_summary_shows_candidate_baseline_and_delta(pages):
    _, text, _ = pages["gates"]
    for metric, (c, b) in vf.NUMBERS[""][1].items():
        tile = re.search(r'<div class="tile" data-metric="%s">(.*?)</div></dd></div>' % metric,
                         text).group(1)
        assert float(re.search(r'data-value="([^"]+)"', tile).group(1)) == c
        assert float(re.search(r'data-baseline="([^"]+)"', tile).group(1)) == b
        delta = float(re.search(r'data-delta="([^"]+)"', tile).group(1))
        assert delta == pytest.approx(c - b, abs=1e-12)
        better = (c - b) * (-1 if metric == "average_loss" else 1) > 0
        assert ('class="delta better"' if better else 'class="delta worse"') in tile


def test_both_models_curves_on_one_chart(pages):
    _, _, page = pages["gates"]
    curves = vf.curve_rows()
    for kind in ("roc", "pr"):
        svg = next(s for s in page.sections[0]["svgs"] if s["data-kind"] == kind)
        lines = [p for p in page.polylines if p["svg"] is svg]
        by_model = {m: [p for p in lines if p.get("data-model") == m]
                    for m in ("candidate", "baseline")}
        assert [len(by_model[m]) for m in by_model] == [1, 1]
        assert by_model["baseline"][0].get("stroke-dasharray")
        assert not by_model["candidate"][0].get("stroke-dasharray")
        for model, (line,) in by_model.items():
            points = [(r["fpr"], r["recall"]) if kind == "roc" else (r["recall"], r["precision"])
                      for r in curves if r["model"] == model and r["curve"] == kind]
            left, top, width, height = map(float, svg["data-plot"].split())
            vertices = [tuple(map(float, v.split(","))) for v in line["points"].split()]
            assert vertices == [pytest.approx((left + width * x, top + height * (1 - y)),
                                              abs=0.006) for x, y in points]


def test_slice_table_baseline_delta_and_behind_first(pages):
    _, _, page = pages["gates"]
    table = next(t for t in page.tables if t["class"] == "slices")
    header, body = table["rows"][0]["cells"], table["rows"][1:]
    assert header[3:6] == ["auc", "baseline", "Δ vs baseline"]
    assert [r["data-slice"] for r in body] == ["", "g=a", "g=c", "g=b"]
    for r in body:
        c, b = vf.NUMBERS[r["data-slice"]][1]["auc"]
        assert (float(r["cells"][3]), float(r["cells"][4])) == (c, b)
        assert float(r["cells"][5]) == pytest.approx(c - b, abs=5e-5)
        assert ("behind" in r["class"].split()) == (r["data-slice"] in ("g=a", "g=c"))


def test_error_bars_iff_intervals_and_the_interval_flag(pages):
    _, plain, _ = pages["gates"]
    _, text, page = pages["ci"]
    assert 'class="ebar"' not in plain
    bars = re.findall(r'<svg class="ebar" data-lower="([^"]+)" data-upper="([^"]+)"', text)
    summary = text.split('<div class="charts">')[0]
    # summary: every tile with an interval (auc, accuracy, average_loss, precision @ 0.5)
    assert summary.count('class="ebar"') == 4
    for metric, (c, _) in vf.NUMBERS[""][1].items():
        assert (repr(c - vf.HALF_WIDTH), repr(c + vf.HALF_WIDTH)) in bars
    table = next(t for t in page.tables if t["class"] == "slices")
    header = table["rows"][0]["cells"]
    assert header[6:9] == ["accuracy", "interval", ""]
    slice_part = text.split('<table class="slices">')[1].split("</table>")[0]
    for s, (_, metrics) in vf.NUMBERS.items():
        row = re.search(r'<tr [^>]*data-slice="%s">(.*?)</tr>' % s, slice_part).group(1)
        width = vf.HALF_WIDTH * (1 if s == "" else 2)
        c = metrics["accuracy"][0]
        assert 'data-lower="%r" data-upper="%r"' % (c - width, c + width) in row
    # accuracy: g=a 0.78 ± 0.04 lies below the overall 0.86; g=b, g=c do not
    flagged = {r["data-slice"]: "worse" in r["class"].split() for r in table["rows"][1:]}
    assert flagged == {"": False, "g=a": True, "g=c": False, "g=b": False}
    assert "worse than overall" in [c for r in table["rows"][1:] for c in r["cells"]]


def test_inline_fragment_shows_the_verdict_and_both_curves(pages):
    import headeval
    folder, _, _ = pages["gates"]
    fragment = headeval.load(folder)._repr_html_()
    assert fragment.index('id="validation"') < fragment.index('class="head"')
    assert fragment.count('data-model="baseline" stroke-dasharray') == 2
    table = headeval.load(folder).table(slice="overall")[("", "", "scalar")]
    assert table.loc["auc", "value"] == vf.NUMBERS[""][1]["auc"][0]  # the candidate's


@needs_chromium
def test_two_model_page_renders_in_chromium(pages, tmp_path):
    folder, _, _ = pages["ci"]
    path = html_page.write_report(folder)
    dom, console, proc = _chromium(os.path.abspath(path), str(tmp_path / "vs.png"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert console == [], console
    assert re.search(r'<html[^>]* %s="2"' % html_page.CHARTS_ATTRIBUTE, dom), dom[:500]
