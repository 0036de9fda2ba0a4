"""Timing a step: the median over `repeats` windows of `window` calls each (after `warmup` calls), so that dispatch
overlaps execution as in training, and one slow window does not move the result."""

import resource
import statistics
import time


def median_step_seconds(step, sync, warmup: int, window: int, repeats: int) -> float:
  """Runs step() warmup times, then `repeats` windows of `window` calls, each ended by sync(); returns the
  median seconds per call."""
  for _ in range(warmup):
    step()
  sync()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(window):
      step()
    sync()
    times.append((time.perf_counter() - start) / window)
  return statistics.median(times)


def timed_steps(step, sync, warmup: int, window: int, repeats: int) -> dict:
  """median_step_seconds, the process's page faults and kernel CPU seconds per timed step, and its peak resident
  size so far (Linux counts ru_maxrss in KiB)."""
  for _ in range(warmup):
    step()
  sync()
  before = resource.getrusage(resource.RUSAGE_SELF)
  seconds = median_step_seconds(step, sync, 0, window, repeats)
  after = resource.getrusage(resource.RUSAGE_SELF)
  steps = window * repeats
  return {
      'step_seconds': seconds,
      'page_faults_per_step': (after.ru_minflt - before.ru_minflt) / steps,
      'system_seconds_per_step': (after.ru_stime - before.ru_stime) / steps,
      'peak_resident_bytes': after.ru_maxrss * 1024,
  }
