"""What the sync and async clients share: settings, request building, input conversion,
the Server-Sent Events decoder, and the marker that ties SDK methods to operations."""
import dataclasses
import json
import os
from datetime import datetime
from typing import Any, Callable, Dict, Generic, List, Literal, Mapping, Optional, Sequence, Tuple, TypeVar
from urllib.parse import quote

from ._errors import PortcullisError
from ._operations import NESTED_INPUTS, OPERATIONS, OUTPUT_ONLY, Operation
from ._time import format_time

__version__ = "0.1.0"
DEFAULT_URL = "http://127.0.0.1:8080"
#: The live log is kept open through quiet spells: the server sends a keep-alive every 15 s,
#: so a stream is only given up after this long without a byte (or the client's timeout, if longer).
STREAM_IDLE_SECONDS = 45.0

#: The media type each kind of answer comes in (the API refuses a request that accepts another).
ACCEPT = {"text": "text/plain", "pem": "application/x-pem-file", "sse": "text/event-stream", "ndjson": "application/x-ndjson"}

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: `wait="fleet"` on a policy-changing call (FLEET.md): the call answers once every node of the
#: fleet that is not down has applied the change; FleetLaggingError when some had not within 5 s.
Wait = Optional[Literal["fleet"]]


class NotGiven:
    """The default of a field whose `None` means something (PATCH `name=None` removes the name)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Any = NotGiven()


def operation(operation_id: str) -> Callable[[F], F]:
    """Marks an SDK method as the one (or one of those) that performs `operation_id`."""
    if operation_id not in OPERATIONS:
        raise ValueError(f"{operation_id} is not an operation of the OpenAPI document")

    def mark(fn: F) -> F:
        fn.__portcullis_operation__ = operation_id  # type: ignore[attr-defined]
        return fn

    return mark


@dataclasses.dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str = dataclasses.field(repr=False)
    timeout: float

    @staticmethod
    def resolve(base_url: Optional[str], api_key: Optional[str], timeout: float) -> "Settings":
        url = (base_url or os.environ.get("PORTCULLIS_URL") or DEFAULT_URL).rstrip("/")
        if not (url.startswith("http://") or url.startswith("https://")):
            raise PortcullisError(f"base_url (or PORTCULLIS_URL) must be an http(s) URL such as {DEFAULT_URL}, not {url!r}")
        key = api_key or os.environ.get("PORTCULLIS_TOKEN")
        if not key:
            raise PortcullisError("no API key: pass api_key= or set PORTCULLIS_TOKEN")
        if timeout <= 0:
            raise PortcullisError(f"timeout must be positive, not {timeout!r}")
        return Settings(url, key, float(timeout))

    def headers(self, op: Operation) -> Dict[str, str]:
        h = {"User-Agent": f"portcullis-python/{__version__}", "Accept": ACCEPT.get(op.kind, "application/json")}
        if op.auth:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h


@dataclasses.dataclass
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    items: List[T]
    next_cursor: Optional[str]


@dataclasses.dataclass(frozen=True)
class Readiness:
    """`/readyz`: whether the gateway is ready, and its one-line answer (what is missing, if not)."""

    ready: bool
    message: str


def path_segment(name: str, value: str) -> str:
    """One path parameter, percent-encoded; empty, `.` and `..` are refused (they would change the route)."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    if value in (".", ".."):
        raise ValueError(f"{name} must not be {value!r}")
    return quote(value, safe="")


def url_for(settings: Settings, operation_id: str, path: Sequence[str]) -> Tuple[Operation, str]:
    op = OPERATIONS[operation_id]
    if len(path) != len(op.path_params):
        raise TypeError(f"{operation_id} takes {len(op.path_params)} path parameters, not {len(path)}")
    text = op.path
    for name, value in zip(op.path_params, path):
        text = text.replace("{" + name + "}", path_segment(name, value))
    return op, settings.base_url + text


def query_params(op: Operation, query: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, value in (query or {}).items():
        if key not in op.query:
            raise TypeError(f"{key} is not a query parameter of {op.path}")
        if value is None:
            continue
        out[key] = format_time(value) if isinstance(value, datetime) else str(value)
    return out


def wait_param(operation_id: str, op: Operation, wait: Optional[str]) -> Dict[str, str]:
    """`?wait=fleet`, on the operations that change policy only."""
    if wait is None:
        return {}
    if not op.fleet_wait:
        raise TypeError(f"{operation_id} changes no policy, so it takes no wait")
    if wait != "fleet":
        raise ValueError(f"wait must be 'fleet' (or None), not {wait!r}")
    return {"wait": "fleet"}


def compact(**fields: Any) -> Dict[str, Any]:
    """Keyword arguments as a body: None (and NOT_GIVEN) left out."""
    return {k: v for k, v in fields.items() if v is not None and not isinstance(v, NotGiven)}


def given(**fields: Any) -> Dict[str, Any]:
    """Keyword arguments as a body: only NOT_GIVEN left out (None is sent as null)."""
    return {k: v for k, v in fields.items() if not isinstance(v, NotGiven)}


def to_input(value: Any, schema: Optional[str]) -> Any:
    """A request body, or part of one, as JSON. Models become their JSON; the fields of an
    answer that the body's schema lacks (a template's `name` in a sandbox policy PUT, a
    rule's `id` in a new rule) are dropped, so an answer can be sent back as it is; the
    policy bodies take a policy's answer-only fields themselves (docs/api.md, "Sending a
    policy back"). Everything else is sent as given, so the API refuses unknown fields
    with a 400 naming them."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict()  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        strip = OUTPUT_ONLY.get(schema or "", ())
        nested = NESTED_INPUTS.get(schema or "", {})
        return {k: to_input(v, nested.get(k)) for k, v in value.items() if k not in strip}
    if isinstance(value, (list, tuple)):
        return [to_input(v, schema) for v in value]
    if isinstance(value, datetime):
        return format_time(value)
    return value


def policy_body(policy: Any, overrides: Dict[str, Any]) -> Any:
    """An exported policy (a model or a dict, or None) with `overrides` on top."""
    if policy is None:
        return overrides
    base = policy.to_dict() if hasattr(policy, "to_dict") else dict(policy)
    return {**base, **overrides}


def encode_body(op: Operation, body: Any) -> Optional[bytes]:
    if isinstance(body, NotGiven):
        return None
    if op.body is None:
        raise TypeError(f"{op.method} {op.path} takes no body")
    return json.dumps(to_input(body, op.body), separators=(",", ":")).encode()


class SSEDecoder:
    """Server-Sent Events, line by line (WHATWG HTML, "event stream interpretation"): `data:`
    lines are joined, a blank line dispatches, comments (`: keep-alive`) and other fields
    are ignored."""

    def __init__(self) -> None:
        self._data: List[str] = []

    def feed(self, line: str) -> Optional[str]:
        """Returns an event's data when `line` completes one."""
        line = line.rstrip("\r\n")
        if line == "":
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None


class NDJSONDecoder:
    """JSON lines: every non-empty line is one document."""

    def feed(self, line: str) -> Optional[str]:
        line = line.strip()
        return line or None


def bind(obj: T, client: Any, **extra: Any) -> T:
    """Attaches the client (and ids) a bound model's methods use; not a dataclass field."""
    object.__setattr__(obj, "_client", client)
    for k, v in extra.items():
        object.__setattr__(obj, k, v)
    return obj


def bound_client(obj: Any) -> Any:
    client = getattr(obj, "_client", None)
    if client is None:
        raise PortcullisError(f"this {type(obj).__name__} was not returned by a client, so it cannot make calls")
    return client
