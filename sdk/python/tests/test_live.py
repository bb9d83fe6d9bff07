"""Against a live serve: each error class as the API raises it, paging past one page, and
the live log, with the sync and the async client."""
import asyncio

import pytest

import portcullis
from conftest import proxied
from helpers import aw, close, items, next_event, poll


def test_each_error_class_from_the_api(gateway, client, tenant):
    with pytest.raises(portcullis.BadRequestError) as bad:
        client.sandboxes.create(network={"allow": ["*"]})
    assert bad.value.status_code == 400 and "*" in bad.value.message
    with pytest.raises(portcullis.BadRequestError) as bad:
        client.network_policy.update(client.sandboxes.create().id, mode="allowlist", rules=[])
    assert bad.value.message == "rules required for allowlist/denylist mode"

    with portcullis.Portcullis(base_url=gateway.api, api_key="not-a-key") as wrong:
        with pytest.raises(portcullis.AuthenticationError) as auth:
            wrong.sandboxes.list().__iter__().__next__()
    assert auth.value.status_code == 401 and auth.value.message == "missing or invalid API key"

    with pytest.raises(portcullis.PermissionDeniedError) as denied:
        client.tenants.create("not allowed")
    assert denied.value.status_code == 403 and denied.value.message == "admin key required"

    with pytest.raises(portcullis.NotFoundError) as missing:
        client.sandboxes.get("sbx_doesnotexist")
    assert missing.value.message == "sandbox not found"
    with pytest.raises(portcullis.NotFoundError) as missing:
        client.network_policy.get("sbx_doesnotexist")
    assert missing.value.message == "computer not found"

    with pytest.raises(portcullis.ConflictError) as conflict:
        client.profiles.replace("pypi", rules=[{"action": "allow", "host": "pypi.test"}])
    assert conflict.value.status_code == 409 and "built in" in conflict.value.message

    # Another tenant's sandbox is not found, never forbidden.
    with portcullis.Portcullis(base_url=gateway.api, api_key=gateway.admin) as other:
        theirs = other.sandboxes.create()
        with pytest.raises(portcullis.NotFoundError):
            client.sandboxes.network(theirs.id).observe()
        theirs.destroy()


def test_update_with_name_none_removes_the_name(client):
    sbx = client.sandboxes.create(name="named")
    assert client.sandboxes.update(sbx.id, name=None).name is None


def test_errors_from_the_async_client(gateway, tenant):
    async def run():
        async with portcullis.AsyncPortcullis(base_url=gateway.api, api_key=tenant.api_key) as c:
            with pytest.raises(portcullis.NotFoundError):
                await c.sandboxes.get("sbx_doesnotexist")
            with pytest.raises(portcullis.BadRequestError):
                await c.sandboxes.create(network={"allow": ["*"]})
            with pytest.raises(portcullis.ConflictError):
                await c.profiles.delete("pypi")
    asyncio.run(run())


async def _at_least(coroutine, n):
    return len(await coroutine) >= n


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_paging_goes_past_one_page(gateway, upstream, tenant, flavour):
    async def run(c):
        made = [await aw(c.sandboxes.create(name=f"page-{i}")) for i in range(5)]
        listed = await items(c.sandboxes.list(limit=2))
        assert sorted(s.name for s in listed) == [f"page-{i}" for i in range(5)], "every sandbox once"
        # The API lists sandboxes by id (docs/api.md "Paging": stable across pages; ids are
        # random, so not creation order — created_at has one-second resolution besides).
        assert [s.id for s in listed] == sorted(s.id for s in listed), "in id order"
        # Used as a list (`await` in the async client): every page, fetched once.
        as_list = await aw(c.sandboxes.list(limit=2))
        assert len(as_list) == 5 and [s.id for s in as_list] == [s.id for s in listed] and as_list[-1].id == listed[-1].id
        pages = await items(c.sandboxes.list(limit=2).pages())
        assert [len(p.items) for p in pages] == [2, 2, 1] and pages[-1].next_cursor is None
        # Audit pages: more entries than one page holds.
        for _ in range(7):
            assert proxied(made[0], f"http://allowed.test:{upstream.port}/").status_code == 200
        assert await poll(lambda: _at_least(items(c.audit.list(sandbox=made[0].id)), 7))
        entries = await items(c.audit.list(sandbox=made[0].id, limit=3))
        assert len(entries) == 7 and len({e.id for e in entries}) == 7
        assert [e.time for e in entries] == sorted((e.time for e in entries), reverse=True)
        first_three = await items(c.audit.list(sandbox=made[0].id, limit=3), limit=3)
        assert [e.id for e in first_three] == [e.id for e in entries[:3]]

    if flavour == "sync":
        with portcullis.Portcullis(base_url=gateway.api, api_key=tenant.api_key) as c:
            asyncio.run(run(c))
    else:
        async def go():
            async with portcullis.AsyncPortcullis(base_url=gateway.api, api_key=tenant.api_key) as c:
                await run(c)
        asyncio.run(go())


def test_the_live_log_with_the_sync_client(client, upstream):
    sbx = client.sandboxes.create(network={"allow": ["allowed.test"]})
    with sbx.network.log() as log:
        assert proxied(sbx, f"http://allowed.test:{upstream.port}/").status_code == 200
        assert proxied(sbx, f"http://denied.test:{upstream.port}/").status_code == 403
        seen = []
        for event in log:  # the source documents' `for event in sandbox.network.log()`
            seen.append((event.host, event.action))
            if len(seen) == 2:
                break
    assert seen == [("allowed.test", "allow"), ("denied.test", "reject")]
    # Filtered by action, and a closed stream ends the iteration.
    log = sbx.network.log(action="reject")
    with log:
        proxied(sbx, f"http://allowed.test:{upstream.port}/")
        proxied(sbx, f"http://other.test:{upstream.port}/")
        assert next(log).host == "other.test"
    assert list(log) == []


def test_the_live_log_with_the_async_client(gateway, tenant, upstream):
    async def run():
        async with portcullis.AsyncPortcullis(base_url=gateway.api, api_key=tenant.api_key) as c:
            sbx = await c.sandboxes.create(network={"allow": ["allowed.test"]})
            async with sbx.network.log() as log:
                proxied(sbx, f"http://allowed.test:{upstream.port}/")
                proxied(sbx, f"http://denied.test:{upstream.port}/")
                seen = []
                async for event in log:
                    seen.append((event.host, event.action, event.via))
                    if len(seen) == 2:
                        break
            assert seen == [("allowed.test", "allow", "http"), ("denied.test", "reject", "http")]
            # Another task can end a stream that waits for events.
            log = sbx.network.log()
            await log.open()
            waiting = asyncio.ensure_future(next_event(log))
            await asyncio.sleep(0.2)
            await close(log)
            with pytest.raises((StopAsyncIteration, portcullis.APIConnectionError)):
                await asyncio.wait_for(waiting, 5)
    asyncio.run(run())
