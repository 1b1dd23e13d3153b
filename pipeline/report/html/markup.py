"""Text for the HTML page: escaping, number and time formats, JSON for a
script element. One place, so every table, chart and card of the page
writes a value the same way."""
import html
import json
from datetime import datetime, timezone

from pipeline.report.tables import is_missing


def escape(text: object) -> str:
    """`text` (any value, as str) escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def missing(value: object) -> bool:
    """None, NaN (undefined) or infinite: a value the page shows as '–' (and
    JSON as null); `tables.is_missing`, as `show` tests it."""
    return is_missing(value)


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric value: whole numbers with thousands separators, others to
    `digits` significant digits; '–' when missing."""
    if missing(value):
        return "–"
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return "{:,}".format(int(value))
    return "%.*g" % (digits, value)


def fmt_count(value: float | None) -> str:
    """An example count (weighted counts may have a fraction); '–' when missing."""
    return "–" if missing(value) else "{:,.0f}".format(value) if float(value).is_integer() \
        else "{:,.1f}".format(value)


def json_number(value: float | None) -> float | None:
    """A float for JSON: non-finite -> None (JSON has no NaN)."""
    return None if missing(value) else float(value)


def json_for_script(data: dict) -> str:
    """JSON safe inside <script>: no '</' can close the element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def format_time(iso: str) -> str:
    """'2026-12-02T05:49:25.659235+00:00' -> '2026-12-02 05:49:25 UTC'
    (anything that is no ISO time comes back as it is)."""
    try:
        stamp = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if stamp.tzinfo else "")
