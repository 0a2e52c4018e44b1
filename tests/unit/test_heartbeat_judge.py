"""The heartbeat judge counts only time it watched (issue 22, fault 4)."""

import datetime as dt

import pytest

from pulp2ng.tasking import workers
from pulp2ng.tasking.workers import HeartbeatJudge

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def clock(monkeypatch):
    """One fake clock for both the judge's monotonic time and the database's time."""
    state = {"t": 0.0}
    monkeypatch.setattr(workers.time, "monotonic", lambda: state["t"])

    def advance(seconds):
        state["t"] += seconds
        return T0 + dt.timedelta(seconds=state["t"])

    return advance


def rounds(judge, clock, seconds, interval):
    """The judge's rounds at its own cadence for ``seconds``; the last cutoff."""
    cutoff, spent = None, 0.0
    while spent < seconds:
        cutoff = judge.cutoff(clock(interval))
        spent += interval
    return cutoff


def test_a_judge_at_its_own_cadence_reaps_after_worker_timeout(clock):
    judge = HeartbeatJudge(timeout=3, interval=1.8)  # a scheduler: 1 s tick + a slow pass
    assert rounds(judge, clock, 2.9, 1.8) is None    # watching for less than the timeout
    assert rounds(judge, clock, 4, 1.8) == clock(0) - dt.timedelta(seconds=3)


def test_after_its_own_outage_every_worker_gets_a_fresh_timeout(clock):
    judge = HeartbeatJudge(timeout=30, interval=6)
    assert rounds(judge, clock, 60, 6) is not None
    judge.blinded()                                   # a round failed
    assert judge.cutoff(clock(6)) is None
    assert rounds(judge, clock, 24, 6) is None        # 30 s not yet watched again
    assert rounds(judge, clock, 6, 6) is not None


def test_a_round_blocked_past_the_gap_counts_as_blind(clock):
    judge = HeartbeatJudge(timeout=30, interval=6)
    assert rounds(judge, clock, 60, 6) is not None
    assert judge.cutoff(clock(6 + 10 + 1)) is None    # interval + timeout/3 exceeded
    assert judge.cutoff(clock(6 + 10)) is None        # still within the fresh timeout
