"""The watcher's label hooks: for upserted objects of the registered kinds carrying the label, the
task is sent by name with the label's value: at once after a quiet window, and once more at the
window's end for every change inside it (coalesced, held by the watcher until then), so the last
state is never lost.

Sends are caught at Celery's ``send_task`` (the broker boundary), not in our code."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from clusters.watcher import hooks
from clusters.watcher.projection import project
from clusters.watcher.writer import Changes
from portal.celery import app as celery_app

LABEL = "example.test/owner"
_n = itertools.count(1)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any], float | None]]:
    calls: list[tuple[str, list[Any], float | None]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, kwargs=None, countdown=None, **kw:
                        calls.append((name, list(args or []), countdown)))
    return calls


def forget(task: str) -> None:
    """Unregister the test's hook and drop its held sends (they must not reach a real broker)."""
    hooks._label_hooks[:] = [h for h in hooks._label_hooks if h.task != task]
    with hooks._windows_lock:
        for _, _, held in hooks._held:
            if held.task == task:
                held.cancelled = True


def held(task: str) -> list[str]:
    return [value for name, value, _ in hooks.pending() if name == task]


def wait_sent(sent: list[Any], task: str, count: int, seconds: float = 3.0) -> list[tuple[list[Any], Any]]:
    """The task's sends, once there are ``count`` of them (the held ones leave from a timer thread)."""
    deadline = time.monotonic() + seconds
    while len(mine := [(args, countdown) for name, args, countdown in sent if name == task]) < count:
        assert time.monotonic() < deadline, mine
        time.sleep(0.01)
    return mine


@pytest.fixture
def task() -> Iterator[str]:
    name = f"tests.notify_{next(_n)}"
    hooks.on_label(LABEL, name, kinds={"Deployment", "Job"}, window=0.3)
    yield name
    forget(name)


def changes(kind: str, *labels: dict[str, str], deleted: bool = False) -> Changes:
    out = Changes()
    for i, labelled in enumerate(labels):
        row = project(kind, {"metadata": {"name": f"o{i}", "namespace": "ns", "labels": labelled}})
        if deleted:
            out.deletes.setdefault((1, kind), set()).add(("ns", row["name"]))
        else:
            out.upserts.setdefault((1, kind), {})[("ns", row["name"])] = row
    return out


def test_labelled_changes_send_at_once_then_once_more_at_the_end_of_the_window(sent: list[Any], task: str) -> None:
    batch = changes("Deployment", {LABEL: "7"}, {LABEL: "8"}, {"app": "x"})
    assert hooks.wanted(batch)
    hooks.notify(batch)  # quiet before: at once (the batch is committed, the task sees it)
    mine = [c for c in sent if c[0] == task]
    assert sorted(mine) == [(task, ["7"], None), (task, ["8"], None)]
    hooks.notify(changes("Job", {LABEL: "7"}))  # within the window: one send at its end, held here
    hooks.notify(changes("Job", {LABEL: "7"}))  # that send will see this one too
    assert len([c for c in sent if c[0] == task]) == 2
    assert held(task) == ["7"]
    assert 0 < next(s for name, _, s in hooks.pending() if name == task) <= 0.3
    assert wait_sent(sent, task, 3)[2:] == [(["7"], None)]  # at the window's end, to run at once
    assert held(task) == []
    time.sleep(0.05)
    hooks.notify(changes("Deployment", {LABEL: "7"}))  # quiet again: at once
    assert [c for c in sent if c[0] == task][3:] == [(task, ["7"], None)]


def test_other_kinds_unlabelled_objects_and_deletes_send_nothing(sent: list[Any], task: str) -> None:
    for batch in (changes("ConfigMap", {LABEL: "7"}), changes("Deployment", {"app": "x"}),
                  changes("Deployment", {LABEL: ""}), changes("Deployment", {LABEL: "7"}, deleted=True)):
        hooks.notify(batch)
    assert [c for c in sent if c[0] == task] == []
    assert not hooks.wanted(changes("ConfigMap", {LABEL: "7"}))


def test_a_broker_failure_is_logged_not_raised_and_the_next_change_tries_again(
        monkeypatch: pytest.MonkeyPatch, task: str) -> None:
    calls: list[list[Any]] = []

    def refuse(name: str, args: Any = None, **kwargs: Any) -> None:
        calls.append(list(args or []))
        raise ConnectionError("broker away")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    hooks.notify(changes("Deployment", {LABEL: "9"}))  # no exception: the read model keeps flowing
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kw: calls.append(list(args or [])))
    hooks.notify(changes("Deployment", {LABEL: "9"}))  # sent at once: the first never left
    hooks.notify(changes("Deployment", {LABEL: "9"}))  # the window's closing send, held
    hooks.notify(changes("Deployment", {LABEL: "9"}))  # covered by it
    assert calls == [["9"], ["9"]]
    deadline = time.monotonic() + 3
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [["9"], ["9"], ["9"]]


def test_a_held_send_the_broker_refuses_is_tried_again_by_the_next_change(
        monkeypatch: pytest.MonkeyPatch, significant_task: str) -> None:
    """The closing send fails at the window's end: the signatures it covered are forgotten, so
    the same state arriving again is sent, and the window no longer counts as covered."""
    task = significant_task
    calls: list[list[Any]] = []
    refused: list[list[Any]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kw: calls.append(list(args or [])))
    hooks._label_hooks[:] = [h for h in hooks._label_hooks if h.task != task]
    hooks.on_label(LABEL, task, kinds={"Deployment"}, window=0.2, significant=ready_of)
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "2"}, ready=0))  # at once
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "2"}, ready=1))  # held for the window's end

    def refuse(name: str, args: Any = None, **kwargs: Any) -> None:
        refused.append(list(args or []))
        raise ConnectionError("broker away")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    deadline = time.monotonic() + 3
    while not refused and time.monotonic() < deadline:
        time.sleep(0.01)
    assert refused == [["2"]]
    assert held(task) == []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kw: calls.append(list(args or [])))
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "2"}, ready=1))  # the same state: sent again
    assert calls == [["2"], ["2"]]


def rollout_change(kind: str, name: str, labels: dict[str, str], *, ready: int, stamp: str = "",
                   uid: str = "u1") -> Changes:
    """A workload's row with ``ready`` of 2 replicas, and a condition time that changes alone."""
    obj = {"metadata": {"name": name, "namespace": "ns", "labels": labels, "uid": uid, "generation": 1},
           "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                                                "readyReplicas": ready, "availableReplicas": ready,
                                                "conditions": [{"type": "Progressing", "status": "True",
                                                                "lastUpdateTime": stamp}]}}
    out = Changes()
    out.upserts[(1, kind)] = {("ns", name): project(kind, obj)}
    return out


def ready_of(row: Any) -> Any:
    """What the task of these tests reads of a row: which object, and how many replicas are ready."""
    return row["uid"], (row["data"].get("rollout") or {}).get("ready")


@pytest.fixture
def significant_task() -> Iterator[str]:
    name = f"tests.look_{next(_n)}"
    hooks.on_label(LABEL, name, kinds={"Deployment"}, window=0.0, significant=ready_of)
    yield name
    forget(name)


def test_a_change_that_leaves_the_signature_as_sent_sends_nothing(sent: list[Any], significant_task: str) -> None:
    task = significant_task
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "5"}, ready=0, stamp="t1"))  # new object: sent
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "5"}, ready=0, stamp="t2"))  # only a timestamp
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "5"}, ready=1, stamp="t2"))  # one more ready
    hooks.notify(rollout_change("Deployment", "web", {LABEL: "5"}, ready=0, stamp="t1"))  # another object
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "6"}, ready=1, stamp="t2"))  # relabelled
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "6"}, ready=1, stamp="t3", uid="u2"))  # re-created
    assert [c[1] for c in sent if c[0] == task] == [["5"], ["5"], ["5"], ["6"], ["6"]]


def test_a_signature_whose_send_failed_is_not_remembered(monkeypatch: pytest.MonkeyPatch,
                                                         significant_task: str) -> None:
    calls: list[list[Any]] = []

    def refuse(name: str, args: Any = None, **kwargs: Any) -> None:
        raise ConnectionError("broker away")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "3"}, ready=2))
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kw: calls.append(list(args or [])))
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "3"}, ready=2))  # the same state: sent now
    hooks.notify(rollout_change("Deployment", "api", {LABEL: "3"}, ready=2))  # and remembered
    assert calls == [["3"]]


def done_of(row: Any) -> bool:
    return bool((row["data"].get("rollout") or {}).get("done"))


def test_an_urgent_change_is_sent_at_once_inside_a_window_and_drops_the_closing_send(sent: list[Any]) -> None:
    """A workload that finished its rollout must not wait for the window's end: it is sent at
    once, and the window's held closing send, which would have seen nothing more, is dropped; a
    change after it queues a new one."""
    task = f"tests.urgent_{next(_n)}"
    hooks.on_label(LABEL, task, kinds={"Deployment"}, window=5.0, significant=ready_of, urgent=done_of)
    try:
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "9"}, ready=0))  # quiet: at once
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "9"}, ready=1))  # in the window: at its end
        assert held(task) == ["9"]
        assert 4.0 < next(s for name, _, s in hooks.pending() if name == task) <= 5.0
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "9"}, ready=2))  # done: at once
        assert held(task) == []
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "9"}, ready=2, stamp="t9"))  # nothing new
        assert [(args, countdown) for name, args, countdown in sent if name == task] == [(["9"], None)] * 2
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "9"}, ready=1))  # after the urgent one
        assert held(task) == ["9"]
    finally:
        forget(task)


def test_an_urgent_send_the_broker_refuses_leaves_the_closing_send(monkeypatch: pytest.MonkeyPatch) -> None:
    task = f"tests.urgent_{next(_n)}"
    hooks.on_label(LABEL, task, kinds={"Deployment"}, window=5.0, significant=ready_of, urgent=done_of)
    calls: list[list[Any]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **kw: calls.append(list(args or [])))
    try:
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "8"}, ready=0))
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "8"}, ready=1))

        def refuse(name: str, args: Any = None, **kwargs: Any) -> None:
            raise ConnectionError("broker away")

        monkeypatch.setattr(celery_app, "send_task", refuse)
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "8"}, ready=2))
        assert calls == [["8"]]
        assert held(task) == ["8"]  # it will see the finished rollout
    finally:
        forget(task)


def test_a_change_the_held_send_took_on_after_an_urgent_send_was_decided_keeps_it() -> None:
    """The urgent send may have been read before a change that arrived while it was leaving: the
    held send, which that change counted on, stays."""
    window = hooks._Window(time.monotonic() + 5)
    with hooks._windows_lock:
        hooks._windows[("tests.race", "1")] = window
        hooks._hold(window, "tests.race", "1", {})
        late = window.held
        assert late is not None
        late.covered += 1  # what a change inside the window does
    hooks._cancel(window, late, 0)
    assert window.held is late
    assert not late.cancelled
    hooks._cancel(window, late, 1)
    assert window.held is None
    assert late.cancelled
    assert not window.trailing
    del hooks._windows[("tests.race", "1")]


def test_a_quiet_change_waits_for_the_end_of_the_window_it_opens(sent: list[Any]) -> None:
    """A change the task can learn later (``quiet``) is not sent at once after a quiet window: it
    opens the window with its send held for the end, which sees the changes inside it; an
    urgent change inside that window still goes at once (and the held send is dropped); after
    the window, a quiet change opens the next one the same way."""
    task = f"tests.quiet_{next(_n)}"
    hooks.on_label(LABEL, task, kinds={"Deployment"}, window=5.0, significant=ready_of, urgent=done_of,
                   quiet=lambda row: not done_of(row))
    try:
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "4"}, ready=0))  # quiet: at the window's end
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "4"}, ready=1))  # seen by that send
        assert [c for c in sent if c[0] == task] == []
        assert held(task) == ["4"]
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "4"}, ready=2))  # done: at once
        assert [(args, countdown) for name, args, countdown in sent if name == task] == [(["4"], None)]
        assert held(task) == []  # a rollout that ends inside its first window costs one send
        hooks._windows[(task, "4")].ends = time.monotonic() - 0.01  # the window is over
        hooks.notify(rollout_change("Deployment", "api", {LABEL: "4"}, ready=1))
        assert len([c for c in sent if c[0] == task]) == 1
        assert held(task) == ["4"]
        # a value with one quiet and one urgent object among its changes is sent at once
        both = rollout_change("Deployment", "web", {LABEL: "5"}, ready=0)
        both.upserts[(1, "Deployment")].update(rollout_change("Deployment", "db", {LABEL: "5"}, ready=2).upserts[
            (1, "Deployment")])
        hooks.notify(both)
        assert [(args, countdown) for name, args, countdown in sent if name == task][1:] == [(["5"], None)]
    finally:
        forget(task)
