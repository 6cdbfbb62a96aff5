"""A reconnect storm (issue 18, fast version of ``bench/reconnect_storm.py``): WebSocket clients on
loopback against two real web processes (uvicorn, as the Procfile runs them) sharing the Redis
channel layer, on a private PostgreSQL and Redis. Every client drops its socket at once and comes
back at a moment of its own within 10 s while the cluster it shows is changed through the API.

Checked: every client is served (subscribed again and holding the final state) within 30 s of the
drop; no client is left with stale state (each got the final change as an event, or saw a ``seq``
that did not follow on and refetched); no process died or ran out of memory (RSS measured from
``/proc`` while the storm lasts). The clients live in this process (asyncio, aiohttp), see
``tests/faults/storm_helpers.py``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.procs import Stack
from tests.faults.storm_helpers import Usage, make_cluster_row, make_sessions, pids, reconnect_storm
from tests.faults.storm_helpers import webs as start_webs

pytestmark = pytest.mark.faults

CLIENTS = 150
WINDOW = 10.0
SERVED_WITHIN = 30.0
RSS_LIMIT_MB = 1024  # per web process; an idle one is ~150 MB


def test_reconnect_storm_serves_every_client_with_the_final_state(stack: Stack, admin_token: str) -> None:
    webs = start_webs(stack, 2)
    sessions = make_sessions(stack, 10)
    cluster_id = make_cluster_row(stack)

    with Usage({**pids(webs), "redis": stack.redis.pid or 0, "postgres": stack.postgres.pid or 0}) as usage:
        result = asyncio.run(reconnect_storm(base_urls=[w.base_url for w in webs], sessions=sessions,
                                             cluster_id=cluster_id, token=admin_token, clients=CLIENTS,
                                             window=WINDOW, changes=4, settle=SERVED_WITHIN))
    figures = usage.report()
    context = f"{result}\n{figures}\n{stack.logs(15)}"

    assert result["initial_states"] == ["v0"], context
    assert result["final_state"] == "storm-4", context
    # Every client reconnected and holds the final state within 30 s of the drop.
    assert result["reconnected"] == CLIENTS, context
    assert result["served"] == CLIENTS, context
    assert result["stale_count"] == 0, context
    assert result["stale_while_connected"] == 0, context
    assert result["served_s"]["max"] is not None, context
    assert result["served_s"]["max"] <= SERVED_WITHIN, context
    # The changes came while clients were away: some had to notice a gap and refetch, the
    # others heard the changes as events.
    assert result["refetches_after_gap"] > 0, context
    assert result["events_applied"] > 0, context
    # No process died, none ran away with memory.
    assert all(w.alive for w in webs), context
    for web in webs:
        assert figures[web.name]["rss_mb"]["peak"] < RSS_LIMIT_MB, context
