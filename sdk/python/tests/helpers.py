"""One test body for both clients: `aw` awaits what the async client returns and passes
through what the sync client returns; `items` drains a pager of either kind."""
import asyncio
import inspect
import time


async def aw(value):
    return await value if inspect.isawaitable(value) else value


async def items(iterable, limit=None):
    out = []
    if hasattr(iterable, "__aiter__"):
        async for x in iterable:
            out.append(x)
            if limit and len(out) >= limit:
                break
    else:
        for x in iterable:
            out.append(x)
            if limit and len(out) >= limit:
                break
    return out


async def next_event(stream):
    return await stream.__anext__() if hasattr(stream, "__anext__") else next(stream)


async def close(obj):
    await aw(obj.aclose() if hasattr(obj, "aclose") else obj.close())


async def poll(fn, timeout=5.0):
    """Calls the coroutine function `fn` until it returns something truthy (or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)
