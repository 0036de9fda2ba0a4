"""progress.py: the training loop's clock counts training steps alone; the ETA adds checkpoint time per step and
each evaluation to come at the last one's time."""

import time

import pytest

from resnet_jax import progress


def test_step_clock_counts_training_time_only(monkeypatch):
  now = [0.0]
  monkeypatch.setattr(time, 'perf_counter', lambda: now[0])
  clock = progress.StepClock(0)
  now[0] = 30.0  # Compiling and the first step.
  clock.start(1, overhead=False)
  now[0] = 32.0  # Steps 2..11.
  clock.stop(11)
  now[0] = 37.0  # A checkpoint.
  clock.start(11)
  now[0] = 39.0  # Steps 12..21.
  assert clock.window(21) == 20 / 4
  assert clock.eta(5.0, 100, 3) == pytest.approx(100 * (1 / 5 + 5 / 20))  # Steps, checkpoint time per step.
  assert clock.window(21) is None and clock.eta(None, 100) is None  # No step timed since.
  clock.stop(21)
  now[0] = 49.0  # An evaluation: each to come takes as long.
  clock.start(21, evaluation=True)
  assert clock.eta(5.0, 100, 3) == pytest.approx(100 * (1 / 5 + 5 / 20) + 3 * 10)


def test_the_evaluations_left_count_the_one_at_this_step_and_the_last():
  assert [progress.evaluations_left(step, 10, 4) for step in (1, 4, 5, 8, 9, 10)] == [3, 3, 2, 2, 1, 1]
  assert progress.evaluations_left(8, 8, 4) == 1
