"""One test body for both clients: `aw` awaits what the async client returns and passes
through what the sync client returns; `items` drains a pager of either kind."""
import inspect


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
