"""headeval from Python: evaluate a config and read reports into pandas.

    import headeval
    report = headeval.evaluate("eval.yaml", output="out/report")  # runs the pipeline
    report = headeval.load("gs://bucket/report")                  # or reads a finished one
    report.metrics                  # metrics.parquet as a DataFrame
    report.select(head="digit", metric="auc")
    report                          # in a notebook: summary cards and ROC/PR/calibration charts

A thin layer over `pipeline` (the same config parser, run, readers and HTML
code as the `headeval` command). Importing it is cheap: TensorFlow, Beam,
pyarrow and pandas are imported when a function needs them.
"""
from headeval.api import evaluate, load, read_config
from headeval.report import Report

__all__ = ["evaluate", "load", "read_config", "Report"]
