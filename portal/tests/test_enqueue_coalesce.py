"""portal.enqueue.on_commit(..., coalesce=key): while a message sent with the key waits in the
queue, later commits do not send another; once the task has started (``started(key)``) they do.
Sends are caught at Celery's ``send_task`` (the broker boundary); the keys live in the real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from portal import enqueue
from portal.celery import app as celery_app
from portal.testing import unique


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    calls: list[list[Any]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, kwargs=None, **kw: calls.append(list(args)))
    return calls


@pytest.mark.django_db(transaction=True)
def test_one_message_waits_per_key_until_the_task_starts(sent: list[list[Any]]) -> None:
    key = unique("test:coalesce")
    for n in range(3):  # three targets of a wave finish: one advance queued
        with transaction.atomic():
            enqueue.on_commit("tests.look", n, coalesce=key)
    assert sent == [[0]]
    other = unique("test:coalesce")
    enqueue.on_commit("tests.look", "other", coalesce=other)  # another key is not held back
    assert sent == [[0], ["other"]]
    enqueue.started(key)  # the task began: what commits now must send again
    enqueue.on_commit("tests.look", 3, coalesce=key)
    assert sent == [[0], ["other"], [3]]
    with transaction.atomic():
        enqueue.on_commit("tests.look", 4, coalesce=key)
        transaction.set_rollback(True)  # rolled back: nothing sent, the key not taken
    enqueue.started(key)
    enqueue.on_commit("tests.look", 5, coalesce=key)
    assert sent == [[0], ["other"], [3], [5]]
    enqueue.started(key)
    enqueue.started(other)


@pytest.mark.django_db(transaction=True)
def test_a_message_the_broker_refused_does_not_hold_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def refuse(name: str, args: Any = None, **kwargs: Any) -> None:
        calls.append(args)
        raise ConnectionError("broker away")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    key = unique("test:coalesce")
    enqueue.on_commit("tests.look", 1, coalesce=key)
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kw: calls.append(args))
    enqueue.on_commit("tests.look", 2, coalesce=key)  # the first never left: this one is sent
    assert calls == [[1], [2]]
    enqueue.started(key)
