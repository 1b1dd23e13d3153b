"""The report's file names and the names its rows use: no pyarrow here, so
modules that only need a name (`headeval show`'s text, `import headeval`)
stay cheap to import. `pipeline.report.schema` re-exports them."""
METRICS_FILE = "metrics.parquet"
CURVES_FILE = "curves.parquet"
RUN_FILE = "run.json"
# With a baseline or validation gates (SPEC §6; `headeval.load` reads them when there).
COMPARISON_FILE = "comparison.parquet"
VALIDATION_FILE = "validation.parquet"
# Empty files a run with validation gates leaves, as TFX's Evaluator does:
# every gate passed, or one failed. A run without gates writes neither.
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
HTML_FILE = "report.html"  # `headeval report` / `run --report`
REJECTED_DIR = "rejected"
VOCABULARY_DIR = "vocabularies"  # label vocabularies computed by the run, one .txt per head
COUNTS_FILE = "_counts.json"  # written by the pipeline, folded into run.json
SUPPRESSED_FILE = "_suppressed.json"  # slices below min_slice_size: folded into run.json
REPORT_MARKER = "headeval_report"  # run.json's key that marks a folder as our report
REPORT_FORMAT = 1  # its value: the version of this layout

# The models of a report's rows: `candidate` always, `baseline` when the
# config names one (SPEC §6).
CANDIDATE = "candidate"
BASELINE = "baseline"
MODELS = (CANDIDATE, BASELINE)
AVERAGES = ("micro", "macro", "weighted")
