"""The errors the SDK raises, all below `PortcullisError` (SDK.md)."""
from typing import Any, List, Optional

import httpx


class PortcullisError(Exception):
    """Every error this SDK raises."""


class APIConnectionError(PortcullisError):
    """The API could not be reached, or the connection broke before an answer came."""

    def __init__(self, message: str = "could not reach the Portcullis API", *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APITimeoutError(APIConnectionError):
    """No answer within the client's `timeout`."""

    def __init__(self, message: str = "the Portcullis API did not answer in time", *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message, request=request)


class APIStatusError(PortcullisError):
    """The API answered with an error status; `message` is its `{"error": ...}` text."""

    status_code: int

    def __init__(self, message: str, *, response: httpx.Response, body: Any) -> None:
        super().__init__(f"{response.status_code} {message}")
        self.message = message
        self.status_code = response.status_code
        self.response = response
        self.body = body


class BadRequestError(APIStatusError):
    """400: bad input; the message names the field and what to write instead."""


class AuthenticationError(APIStatusError):
    """401: no API key, or one that is not valid."""


class PermissionDeniedError(APIStatusError):
    """403: a tenant key on an admin-only operation."""


class NotFoundError(APIStatusError):
    """404: unknown, or another tenant's."""


class ConflictError(APIStatusError):
    """409: the change conflicts with the current state."""


class RateLimitError(APIStatusError):
    """429: too many at once; `response.headers["Retry-After"]` says when to try again."""


class FleetLaggingError(PortcullisError):
    """`wait="fleet"` and the fleet did not catch up: the change **was made** (committed, and in
    force on every node that has applied it), but the nodes in `lagging` had not applied it
    within the API's 5 s (its `202 {"policy_version", "lagging", "status", "result"}` answer).
    The call's usual answer comes inside it: `result` is that JSON as sent (a created
    sandbox with its proxy password, a rule with its id; None for a 204) and `result_status`
    its status. Do not simply retry (a create would create a second object): wait for
    `client.nodes.list()` to show every node at `policy_version`, or look at the lagging nodes."""

    status_code: int = 202

    def __init__(self, policy_version: int, lagging: List[str], *, result: Any = None,
                 result_status: Optional[int] = None, response: Optional[httpx.Response] = None) -> None:
        names = ", ".join(lagging) or "(none named)"
        super().__init__(f"the change (policy version {policy_version}) was made, but these nodes had not applied it "
                         f"within 5 s: {names}")
        self.message = str(self)
        self.policy_version = policy_version
        self.lagging = lagging
        self.result = result
        self.result_status = result_status
        self.response = response

    @classmethod
    def from_response(cls, response: httpx.Response) -> "PortcullisError":
        """The error for a 202 answer of `?wait=fleet` (a body that is not `FleetLagging` is an APIStatusError)."""
        try:
            body = response.json()
            version, lagging = body["policy_version"], body["lagging"]
            if not isinstance(version, int) or not isinstance(lagging, list) or not all(isinstance(x, str) for x in lagging):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return APIStatusError("202 without a policy_version and lagging nodes", response=response, body=response.text)
        status = body.get("status")
        return cls(version, lagging, result=body.get("result"),
                   result_status=status if isinstance(status, int) else None, response=response)


_BY_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def status_error(response: httpx.Response) -> APIStatusError:
    """The error for an answer with an error status (its body already read)."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    else:
        text = (response.text or "").strip()
        message = text.splitlines()[0] if text else (response.reason_phrase or "error")
    cls = _BY_STATUS.get(response.status_code, APIStatusError)
    return cls(message, response=response, body=body)
