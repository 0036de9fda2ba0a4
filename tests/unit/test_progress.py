"""progress.py: the training loop's clock counts training steps alone; the ETA adds evaluation time per step."""

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
  now[0] = 37.0  # An evaluation.
  clock.start(11)
  now[0] = 39.0  # Steps 12..21.
  assert clock.window(21) == 20 / 4
  assert clock.eta(5.0, 100) == pytest.approx(100 * (1 / 5 + 5 / 20))  # Steps, and evaluation time per step.
  assert clock.window(21) is None and clock.eta(None, 100) is None  # No step timed since.
