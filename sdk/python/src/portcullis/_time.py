"""RFC 3339 times as the API writes them (UTC, `Z`), read into aware datetimes."""
from datetime import datetime, timezone


def parse_time(text: str) -> datetime:
    """`2026-04-11T00:00:00Z` (fractions and offsets allowed) -> an aware datetime."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    if "." in value:  # Python < 3.11 reads at most six fraction digits
        head, _, rest = value.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        value = head + "." + (digits[:6].ljust(6, "0")) + rest[len(digits):]
    return datetime.fromisoformat(value.replace("t", "T"))


def format_time(value: datetime) -> str:
    """An aware or naive (taken as UTC) datetime -> RFC 3339 in UTC with `Z`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")
