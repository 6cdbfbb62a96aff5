"""The long-running processes freeze what their setup left alive out of full collections, and log
the full collections that still take long."""

from __future__ import annotations

import gc
import logging

import pytest

from portal import gcpause


def test_freeze_setup_moves_what_is_alive_out_of_collection() -> None:
    kept = [[i] for i in range(1000)]  # containers alive "after setup"
    try:
        gcpause.freeze_setup()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()


def test_a_long_full_collection_is_logged_with_its_pause(caplog: pytest.LogCaptureFixture) -> None:
    before = list(gc.callbacks)
    try:
        gcpause.log_long_collections("test-process-a", seconds=0.0)
        gcpause.log_long_collections("test-process-a", seconds=0.0)  # once per process name
        assert len(gc.callbacks) == len(before) + 1
        with caplog.at_level(logging.WARNING, logger="portal.gc"):
            gc.collect(1)  # a young collection is not logged
            assert not caplog.records
            gc.collect()
        (record,) = caplog.records
        assert record.getMessage() == "test-process-a garbage collection paused the process"
        assert record.seconds >= 0  # type: ignore[attr-defined]
    finally:
        gc.callbacks[:] = before


@pytest.mark.parametrize("signal", ["worker_ready", "worker_process_init"])
def test_the_worker_freezes_its_setup_when_it_is_ready(signal: str) -> None:
    import celery.signals

    import portal.celery  # noqa: F401  (connects the receivers)

    before = list(gc.callbacks)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        getattr(celery.signals, signal).send(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.callbacks[:] = before
        gcpause._logged.discard("worker")
