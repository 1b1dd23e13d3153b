"""`Report`: a report folder as pandas DataFrames, filters that match as
`headeval show`'s do, the `show` pivots, and the HTML report inline in a
notebook.

DataFrame dtypes (pandas 3): text columns are `str` (pandas' string dtype;
a missing value, e.g. the class of an aggregate, is NaN), floating-point
columns `float64` (NaN where null: a threshold that does not apply; a NaN
`value` is a metric undefined on its slice), integer columns `Int64` and
boolean columns `boolean` (pandas' nullable types, so a column keeps its
dtype whether or not it holds nulls), bytes `object`, and `slice_values`
`object` holding a list of {"feature", "value"} dicts per row. Every column of the
file is there, in the file's order (docs/report.md).
"""
import fnmatch
import math

from pipeline.report import tables as pivots
from pipeline.report.text import select_rows


def _frame(table):
    """A pyarrow Table -> DataFrame with the dtypes above (dictionary-encoded
    columns decoded first, so a text column is never `category`)."""
    import pandas as pd
    import pyarrow as pa

    fields = []
    for field in table.schema:
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(field.with_type(kind))
    mapping = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(),
               pa.bool_(): pd.BooleanDtype()}
    frame = table.cast(pa.schema(fields)).to_pandas(types_mapper=mapping.get)
    for field in fields:  # lists as Python lists, not numpy arrays of dicts
        if pa.types.is_list(field.type):
            frame[field.name] = table.column(field.name).to_pylist()
    return frame


def _patterns(value):
    """A filter argument -> a list of patterns (None: no filter)."""
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _thresholds(value):
    if value is None:
        return None
    return [float(value)] if isinstance(value, (int, float)) else [float(v) for v in value]


class Report:
    """A headeval report, read (`headeval.load`) or just written
    (`headeval.evaluate`).

    Attributes (pandas DataFrames, dtypes in the module docstring):
      metrics: metrics.parquet, one row per value.
      curves: curves.parquet (ROC and PR points); None when the file is absent.
      rejected: rejected/*.parquet, the examples a `bad_examples: skip` run
        skipped, with the reason (no rows when none were, or under `fail`).
      comparison, validation: comparison.parquet and validation.parquet;
        None when the report has no such file (no baseline, no gates).
      run: run.json as a dict; None when it is absent (an incomplete report).
      folder: where the report is.
    """

    def __init__(self, folder, metrics, curves=None, run=None, rejected=None,
                 comparison=None, validation=None):
        """Tables are pyarrow Tables (None: no such file); see `headeval.load`."""
        self.folder = folder
        self.run = run
        self._rows = metrics.to_pylist()
        self._curves = None if curves is None else curves.to_pydict()
        self._extras = (comparison, validation)
        self.metrics = _frame(metrics)
        self.curves = None if curves is None else _frame(curves)
        self.rejected = None if rejected is None else _frame(rejected)
        self.comparison = None if comparison is None else _frame(comparison)
        self.validation = None if validation is None else _frame(validation)

    def __repr__(self):
        heads = len({r["head"] for r in self._rows})
        slices = len({(r["head"], r["slice"]) for r in self._rows})
        return "<headeval.Report %s: %d head%s, %d slice%s, %s metric values>" % (
            self.folder, heads, "" if heads == 1 else "s", slices, "" if slices == 1 else "s",
            "{:,}".format(len(self._rows)))

    # -- filters and tables ---------------------------------------------------------

    def _selected(self, head, slice, metric, cls, threshold, model=None) -> list:
        """Positions of the metrics rows the filters keep, in file order."""
        position = {id(r): i for i, r in enumerate(self._rows)}
        rows = select_rows(self._rows, _patterns(head), _patterns(slice), _patterns(metric))
        if model is not None:
            rows = [r for r in rows if r.get("model", "candidate") == model]
        classes, thresholds = _patterns(cls), _thresholds(threshold)
        if classes is not None:
            rows = [r for r in rows if r["class"] is not None
                    and any(fnmatch.fnmatchcase(r["class"], p) for p in classes)]
        if thresholds is not None:
            rows = [r for r in rows if r["threshold"] is not None
                    and any(math.isclose(r["threshold"], t, rel_tol=1e-9, abs_tol=1e-12)
                            for t in thresholds)]
        return [position[id(r)] for r in rows]

    def select(self, head=None, slice=None, metric=None, cls=None, threshold=None,
               model: str | None = "candidate"):
        """The metrics rows that match, as a DataFrame (file order, index
        0..n-1). Each filter is a glob pattern or a list of them (any may
        match), as `headeval show`'s: `slice="overall"` is the overall
        slice, `slice="country=*"` every country; `metric` matches the base
        name (`auc`) or the key (`precision/positive_threshold_0.5`); `cls`
        the class (aggregate rows, with no class, never match). `threshold`
        is a number or a list of numbers, equal to within 1e-9. `model`:
        the candidate's rows, as `show` prints them (`"baseline"`: the
        baseline's; None: both)."""
        keep = self._selected(head, slice, metric, cls, threshold, model)
        return self.metrics.iloc[keep].reset_index(drop=True)

    def table(self, head=None, slice=None, metric=None, cls=None, threshold=None,
              model: str = "candidate") -> dict:
        """The tables `headeval show` prints, as DataFrames of values:
        {(head, slice, kind): DataFrame}, in show's order (heads in config
        order; in a head the overall slice "" first, then by example count).
        `kind` is `scalar` (index: metric key, column `value`; the counts
        included), `threshold` (index: threshold), `class`, `class_threshold`
        (index: class and threshold), `confusion` (rows: label, columns:
        predicted class) or `calibration` (index: bucket). Filters as `select`.
        The values are the candidate's (`model="baseline"`: the baseline's).

            report.table(head="digit", slice="overall")[("digit", "", "class")]
        """
        import pandas as pd

        rows = [self._rows[i] for i in self._selected(head, slice, metric, cls, threshold)]
        rows = [r for r in rows if r.get("model", "candidate") == model]  # one model's pivots
        counts = pivots.slice_counts([r for r in self._rows
                                      if r.get("model", "candidate") == model])
        rows = pivots.order_rows(rows, counts, pivots.head_order(self.run))
        vocabularies = pivots.class_orders(self.run)
        groups = {}
        for r in rows:
            groups.setdefault((r["head"], r["slice"]), []).append(r)
        out = {}
        for (head_, slice_), group in groups.items():
            for kind, _, header, body in pivots.slice_tables(group, vocabularies.get(head_)):
                n = 2 if kind == "class_threshold" else 1
                labels = [_labels(kind, cells, n) for cells in body]
                values = [[math.nan if c is None else c["value"] for c in cells[n:]]
                          for cells in body]
                index = (pd.MultiIndex.from_tuples(labels, names=header[:n]) if n == 2
                         else pd.Index(labels, name=header[0]))
                columns = ["value"] if kind == "scalar" else header[n:]
                frame = pd.DataFrame(values, index=index, columns=pd.Index(columns),
                                     dtype="float64")
                frame.columns.name = "predicted" if kind == "confusion" else None
                out[(head_, slice_, kind)] = frame
        return out

    # -- HTML -----------------------------------------------------------------------

    def _page_report(self):
        from pipeline.report.load import Report as Loaded
        return Loaded(self.folder, self._rows, self._curves, self.run)

    def to_html(self, path=None, overwrite: bool = False) -> str:
        """Writes the HTML report (`headeval report`) to `path` (default:
        report.html in the report folder; any Beam filesystem) and returns
        the path. An existing file that is not a headeval page is replaced
        only with `overwrite`; the report's data files never."""
        from pipeline.report.html.page import write_report
        return write_report(self.folder, None if path is None else str(path), overwrite)

    def _repr_html_(self) -> str:
        """Jupyter's and VS Code's rich display: per head, the summary card
        and ROC, PR and calibration charts of the HTML report, as static
        SVG (no script to run, nothing to fetch); with gates or a baseline,
        the validation verdict first and the baseline beside the candidate."""
        from pipeline.report.html.page import render_inline
        from pipeline.report.versus import Extras
        comparison, validation = (None if t is None else t.to_pylist() for t in self._extras)
        return render_inline(self._page_report(), Extras(comparison, validation))


def _labels(kind, cells, n):
    """A pivot row's label(s): thresholds as numbers (from the rows, not the
    rounded text show prints), the others as show writes them."""
    if kind in ("threshold", "class_threshold"):
        threshold = next(c["threshold"] for c in cells[n:] if c is not None)
        return threshold if kind == "threshold" else (cells[0], threshold)
    return cells[0]
