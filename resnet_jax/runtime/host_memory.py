"""Host memory on CPU-only runs: glibc's malloc keeps freed memory for reuse instead of unmapping it.

An XLA:CPU executable allocates its temporaries afresh on every run and Eigen's convolutions their im2col buffers
on every call. glibc serves allocations this large with mmap and unmaps them when they are freed, so every step
faults in its temporaries' pages anew. One arena that never maps and never trims keeps that memory in the process,
and the faults are gone; the price is a resident size that keeps its high-water mark and, fragmented, grows past
the step's footprint (docs/benchmarks.md measures both).
"""

import ctypes
import importlib.metadata
import importlib.util
import os

from absl import logging

_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8  # mallopt's options, from glibc's malloc.h.
_retained = False  # Whether retain_freed_memory() has set this process's malloc.


def cpu_only() -> bool:
  """Whether JAX will run on the host alone, judged without starting a backend: JAX_PLATFORMS is 'cpu', or it is
  unset and no accelerator plugin (a jax_plugins entry point or package, libtpu) is installed."""
  platforms = os.environ.get('JAX_PLATFORMS', '')
  if platforms:
    return platforms == 'cpu'
  plugins = importlib.metadata.entry_points(group='jax_plugins')
  return not plugins and not any(importlib.util.find_spec(name) for name in ('jax_plugins', 'libtpu'))


def retain_freed_memory() -> bool:
  """Sets glibc's malloc to one arena, no mmap and no trimming; False where the C library is not glibc.

  Threads keep the arena of their first allocation, so this must run before JAX starts its backend (its threads).
  """
  try:
    mallopt = ctypes.CDLL('libc.so.6').mallopt
  except (OSError, AttributeError):
    return False
  global _retained
  settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1))  # -1: SIZE_MAX, never trim.
  _retained = all(mallopt(option, value) == 1 for option, value in settings)
  if _retained:
    logging.info(
        'glibc malloc set for this process: one arena, no mmap, no trimming (freed memory is kept for '
        'reuse; --noretain_host_memory leaves it as it was).'
    )
  return _retained


def retained() -> bool:
  """Whether this process's malloc keeps freed memory (retain_freed_memory() succeeded)."""
  return _retained
