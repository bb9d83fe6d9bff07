"""Portcullis: the Python SDK of the Portcullis egress gateway's control-plane API.

    from portcullis import Portcullis
    client = Portcullis()                      # $PORTCULLIS_URL, $PORTCULLIS_TOKEN
    sandbox = client.sandboxes.create(network={"allow": ["api.openai.com", "pypi.org"]})
    sandbox.network.allow("api.experimental.example.com", warn_only=True)
    sandbox.network.lockdown()
    for event in sandbox.network.log():
        print(event.action, event.host)

`AsyncPortcullis` has the same surface with `await` (and `async for`).
"""
from ._async._audit import AsyncLogStream
from ._async._client import AsyncPortcullis
from ._async._paging import AsyncPager
from ._async._sandboxes import AsyncPending, AsyncSandbox, AsyncSandboxNetwork
from ._async._streams import AsyncEventStream
from ._base import NOT_GIVEN, Page, Readiness, __version__
from ._errors import (APIConnectionError, APIStatusError, APITimeoutError, AuthenticationError, BadRequestError,
                      ConflictError, FleetLaggingError, NotFoundError, PermissionDeniedError, PortcullisError,
                      RateLimitError)
from ._fleet import Fleet
from ._models import *  # noqa: F401,F403  (the API's models, generated from the OpenAPI document)
from ._models import __all__ as _models_all
from ._sync._audit import LogStream
from ._sync._client import Portcullis
from ._sync._paging import Pager
from ._sync._sandboxes import Pending, Sandbox, SandboxNetwork
from ._sync._streams import EventStream

__all__ = [
    "Portcullis", "AsyncPortcullis", "Sandbox", "AsyncSandbox", "SandboxNetwork", "AsyncSandboxNetwork",
    "Pending", "AsyncPending", "Pager", "AsyncPager", "Page", "EventStream", "AsyncEventStream",
    "LogStream", "AsyncLogStream", "Readiness", "Fleet", "NOT_GIVEN", "__version__",
    "PortcullisError", "APIStatusError", "BadRequestError", "AuthenticationError", "PermissionDeniedError",
    "NotFoundError", "ConflictError", "RateLimitError", "APIConnectionError", "APITimeoutError", "FleetLaggingError",
    *_models_all,
]
