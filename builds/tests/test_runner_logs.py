"""A step's kept log (builds.run_actions.append_log): appended from the container log's cursor, the
newest PORTAL_BUILD_LOG_MAX_BYTES kept, bytes that are no text made text of the same length, a
character split between two reads kept whole, a repeated read stored once; and each append
published as buildrun.log at the byte offset where its text starts in the kept log."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.test import override_settings

from builds import run_actions
from builds.models import BuildStep, StepStatus
from builds.tests.runner_helpers import Tasks, new_run, offline_definition
from portal.testing import Subscriber

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Any:
    Tasks(monkeypatch)
    definition, developer, _ = offline_definition()
    made = new_run(definition, developer)
    run_actions.update_step(made.pk, "build", status=StepStatus.RUNNING)
    return made


def _step(run: Any) -> BuildStep:
    return BuildStep.objects.get(run=run, name="build")


def test_appends_follow_the_cursor_and_a_repeated_read_is_stored_once(run: Any) -> None:
    container_log = b"line one\nline two\n"
    assert run_actions.append_log(run.pk, "build", container_log[:9], read_to=9) == 9
    # The next read overlaps what is stored (another pass read it too): only the new bytes go in.
    assert run_actions.append_log(run.pk, "build", container_log[:], read_to=len(container_log)) == 9
    assert run_actions.append_log(run.pk, "build", container_log[9:], read_to=len(container_log)) == 0
    step = _step(run)
    assert step.log == "line one\nline two\n"
    assert step.log_offset == len(container_log)


def test_text_keeps_the_byte_length_and_split_characters_wait_for_their_rest(run: Any) -> None:
    data = "한글 ok\n".encode()
    first = data[:4]  # "한" and the first byte of "글"
    assert run_actions.append_log(run.pk, "build", first, read_to=4) == 3
    assert _step(run).log_offset == 3, "the cursor stays before the incomplete character"
    assert run_actions.append_log(run.pk, "build", data[3:], read_to=len(data)) == len(data) - 3
    assert _step(run).log == "한글 ok\n"
    assert run_actions.append_log(run.pk, "build", b"bad \xff\x00 bytes\n", read_to=len(data) + 13) == 13
    step = _step(run)
    assert step.log.endswith("bad ?? bytes\n")
    assert len(step.log.encode()) == step.log_offset


@override_settings(PORTAL_BUILD_LOG_MAX_BYTES=1000)
def test_the_newest_bytes_are_kept_and_events_carry_offsets_into_the_kept_log(run: Any) -> None:
    events = Subscriber(f"buildrun.{run.pk}")
    try:
        cursor = 0
        for i in range(40):
            chunk = f"{i:03d} {'x' * 45}\n".encode()  # 50 bytes
            cursor += len(chunk)
            run_actions.append_log(run.pk, "build", chunk, read_to=cursor)
        step = _step(run)
        size = len(step.log.encode())
        assert step.log_truncated
        assert size <= 1000
        assert step.log.endswith(f"039 {'x' * 45}\n"), "the newest kept"
        assert step.log_offset == 2000
        def chunk_event(n: int) -> dict[str, Any]:
            return events.wait(lambda e: e["type"] == "buildrun.log" and e["data"]["text"].startswith(f"{n:03d}"))

        logs = [chunk_event(n)["data"] for n in range(40)]
        last = logs[-1]
        assert last["offset"] + len(last["text"].encode()) == size
        assert step.log.encode()[last["offset"]:].decode() == last["text"]
        # Offsets go back when the kept log was cut: that gap tells the console to refetch.
        assert any(b["offset"] < a["offset"] + len(a["text"].encode()) for a, b in itertools.pairwise(logs))
        text, kept = run_actions.read_log(step, last["offset"])
        assert (text, kept) == (last["text"], size)
    finally:
        events.close()
