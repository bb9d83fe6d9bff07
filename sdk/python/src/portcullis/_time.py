"""RFC 3339 times as the API writes them (UTC, `Z`), read into aware datetimes."""
import re
from datetime import datetime, timezone

_FRACTION = re.compile(r"\.(\d+)")


def parse_time(text: str) -> datetime:
    """`2026-04-11T00:00:00Z` (fractions and offsets allowed) -> an aware datetime."""
    value = text.strip().replace("t", "T")
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    # Python before 3.11 reads exactly three or six fraction digits.
    value = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value, count=1)
    return datetime.fromisoformat(value)


def format_time(value: datetime) -> str:
    """An aware or naive (taken as UTC) datetime -> RFC 3339 in UTC with `Z`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
