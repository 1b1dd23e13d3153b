"""The page's stylesheet and script, inline in every page (nothing is
fetched): CSS, and the small script that adds the charts' hover readout and
legend interaction (pipeline.report.html.page)."""

CSS = """
:root{--ink:#1f2328;--muted:#5b636e;--line:#d8dde3;--bg:#fff;--panel:#f6f8fa;--accent:#4e79a7;
--bad:#c0392b;--badbg:#fde8e6;--good:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--bg)}
header{padding:18px 28px 10px;border-bottom:1px solid var(--line);background:var(--panel)}
h1{margin:0;font-size:22px}h2{font-size:19px;margin:0 0 12px}
h3{font-size:15px;margin:22px 0 8px}
.folder{margin:2px 0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;color:var(--muted)}
.subtitle{margin:2px 0 8px;color:var(--muted)}
nav a{margin-right:14px;color:var(--accent);text-decoration:none;font-weight:600}
main{padding:8px 28px 40px;max-width:1400px}
section{padding:18px 0 26px;border-bottom:1px solid var(--line)}
.type{font-size:12px;font-weight:600;color:#fff;background:var(--accent);border-radius:10px;
padding:2px 8px;vertical-align:middle}
.hint{display:block;font-size:12px;font-weight:400;color:var(--muted)}
h3 .hint{display:inline;margin-left:8px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:var(--panel)}
.card-title{font-weight:600;color:var(--muted);margin-bottom:6px}
.tiles{display:flex;flex-wrap:wrap;gap:8px 22px;margin:0}
.tile dt{font-size:12px;color:var(--muted)}.tile dd{margin:0;font-size:20px;font-weight:600;
font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px;
margin-top:16px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;display:block}
.plot-bg{fill:#fff}.axes{fill:none;stroke:#8c959f;stroke-width:1}
.grid{stroke:#eef1f4;stroke-width:1}.reference{stroke:#adb5bd;stroke-dasharray:4 4}
.tick{font-size:11px;fill:var(--muted)}.axis-label{font-size:12px;fill:var(--ink)}
.curve{fill:none;stroke-linejoin:round;stroke-linecap:round}
.bucket{fill:var(--accent);fill-opacity:.75;stroke:#fff;stroke-width:1}
.weight-bar{fill:#c9d3df}.dot{fill:none;stroke:var(--ink);stroke-width:2;pointer-events:none}
.focus .curve:not(.on){stroke-opacity:.12}.curve.gone{display:none}
.legend{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 12px;
font-size:12px}
.legend li{cursor:pointer;white-space:nowrap}.legend li.hidden{opacity:.35}
.swatch{display:inline-block;width:12px;height:4px;margin-right:5px;vertical-align:middle}
.legend-value{color:var(--muted);margin-left:4px;font-variant-numeric:tabular-nums}
.note{font-size:12px;color:var(--muted);margin:4px 0 0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 9px;border-bottom:1px solid #eef1f4;text-align:right}
th:first-child{text-align:left}thead th{border-bottom:1px solid var(--line);color:var(--muted);
font-weight:600;position:sticky;top:0;background:var(--bg)}
.scroll{overflow-x:auto}
table.metrics tbody tr:nth-child(even){background:#fafbfc}
table.confusion td{min-width:42px;text-align:center}
table.confusion td.diag{background:rgba(78,121,167,calc(var(--share)*.85));font-weight:600}
table.confusion td.off{background:rgba(225,87,89,calc(var(--share)*1.6))}
table.confusion .total{color:var(--muted)}
table.slices tr.overall{font-weight:600;background:var(--panel)}
table.slices tr.worse{background:var(--badbg)}
table.slices tr.worse .verdict{color:var(--bad);font-weight:600}
.verdict{text-align:left;color:var(--muted)}
.method{font-size:12px;color:var(--muted);max-width:980px}
details.pivot{margin:6px 0}summary{cursor:pointer;font-weight:600;color:var(--ink)}
table.facts th{text-align:left;color:var(--muted);font-weight:600;vertical-align:top}
table.facts td{text-align:left}
pre{background:var(--panel);padding:10px;border-radius:6px;overflow:auto;max-height:420px}
.warning{color:var(--bad);font-weight:600}
.delta{font-variant-numeric:tabular-nums;color:var(--muted)}
.delta.better{color:var(--good);font-weight:600}.delta.worse{color:var(--bad);font-weight:600}
.vs{font-size:12px;font-weight:400;color:var(--muted)}
.ci-text{font-size:12px;font-weight:400;color:var(--muted)}
svg.ebar{vertical-align:middle;display:inline-block}
table.slices tr.behind th:first-child{box-shadow:inset 4px 0 var(--bad)}
.verdict-line{font-size:17px;font-weight:700;margin:0 0 10px}
.verdict-line.blessed{color:var(--good)}.verdict-line.not-blessed{color:var(--bad)}
.verdict-line.no-gates{color:var(--muted)}
table.gates th,table.gates td{text-align:left}
table.gates tr.failed{background:var(--badbg)}table.gates tr.failed .result{color:var(--bad);
font-weight:700}
.tip{position:fixed;pointer-events:none;background:rgba(31,35,40,.92);color:#fff;
font-size:12px;padding:4px 7px;border-radius:4px;white-space:nowrap;z-index:5}
@media print{header{background:none}.tip{display:none}section{break-inside:avoid-page}}
"""

# Hover readout and legend interaction; the charts themselves are static SVG.
JS = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  window.addEventListener("error", function (e) {
    root.setAttribute("data-headeval-error", String(e.message || e));
  });
  var data = JSON.parse(document.getElementById("headeval-data").textContent);
  var byId = {};
  data.curves.concat(data.calibration).forEach(function (s) { byId[s.id] = s; });
  var tip = document.createElement("div");
  tip.className = "tip";
  tip.style.display = "none";
  document.body.appendChild(tip);
  function fmt(v) {
    if (v === null) { return "-"; }
    var s = (+v).toPrecision(4);
    return s.indexOf(".") >= 0 && s.indexOf("e") < 0 ? s.replace(/\.?0+$/, "") : s;
  }
  var charts = document.querySelectorAll("svg.chart");
  var wired = 0;
  Array.prototype.forEach.call(charts, function (svg) {
    var plot = svg.getAttribute("data-plot").split(" ").map(Number);
    var kind = svg.getAttribute("data-kind");
    var ids = svg.getAttribute("data-series").split(" ").filter(Boolean);
    var dot = svg.querySelector(".dot");
    var box = svg.viewBox.baseVal;
    function px(x) { return plot[0] + plot[2] * Math.min(Math.max(x, 0), 1); }
    function py(y) { return plot[1] + plot[3] * (1 - Math.min(Math.max(y, 0), 1)); }
    svg.addEventListener("mousemove", function (ev) {
      var r = svg.getBoundingClientRect();
      var mx = (ev.clientX - r.left) * box.width / r.width;
      var my = (ev.clientY - r.top) * box.height / r.height;
      var best = null, bestD = Infinity;
      ids.forEach(function (id) {
        var s = byId[id];
        var line = svg.querySelector('[data-series="' + id + '"]');
        if (!s || (line && line.classList.contains("gone"))) { return; }
        for (var i = 0; i < s.x.length; i++) {
          if (s.x[i] === null || s.y[i] === null) { continue; }
          var dx = px(s.x[i]) - mx, dy = py(s.y[i]) - my, d = dx * dx + dy * dy;
          if (d < bestD) { bestD = d; best = [s, i]; }
        }
      });
      if (!best || bestD > 900) { tip.style.display = "none"; dot.setAttribute("cx", -10); return; }
      var s = best[0], i = best[1], text;
      if (kind === "calibration") {
        text = "bucket " + fmt(s.bucket[i]) + "–" + fmt(s.bucket[i] + s.bucket_width) +
          " · mean prediction " + fmt(s.x[i]) + " · mean label " + fmt(s.y[i]) +
          " · weight " + fmt(s.weight[i]);
      } else {
        text = s.label + " · threshold " + fmt(s.threshold[i]) + " · " +
          (kind === "roc" ? "FPR " + fmt(s.x[i]) + " · TPR " : "recall " + fmt(s.x[i]) +
           " · precision ") + fmt(s.y[i]);
      }
      dot.setAttribute("cx", px(s.x[i]));
      dot.setAttribute("cy", py(s.y[i]));
      tip.textContent = text;
      tip.style.display = "block";
      tip.style.left = (ev.clientX + 14) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () {
      tip.style.display = "none";
      dot.setAttribute("cx", -10);
    });
    wired += 1;
  });
  Array.prototype.forEach.call(document.querySelectorAll(".legend li"), function (item) {
    var fig = item.closest("figure");
    var id = item.getAttribute("data-series");
    var line = fig.querySelector('polyline[data-series="' + id + '"]');
    item.addEventListener("mouseenter", function () {
      fig.classList.add("focus");
      if (line) { line.classList.add("on"); }
    });
    item.addEventListener("mouseleave", function () {
      fig.classList.remove("focus");
      if (line) { line.classList.remove("on"); }
    });
    item.addEventListener("click", function () {
      item.classList.toggle("hidden");
      if (line) { line.classList.toggle("gone"); }
    });
  });
  root.setAttribute("data-headeval-charts", String(wired));
})();
"""
