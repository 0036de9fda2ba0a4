"""Where a compiled step's time goes: a jax.profiler trace of some calls, summed by the kind of XLA operation.

A kind is an instruction's name less its number (XLA names a fusion by what it fuses: ynn_fusion, a library's
convolution; transpose_copy_fusion; ...). Loops and calls are left out (the operations inside them count), and so
is the runtime's own bookkeeping. Times are summed over the threads that ran the operations, so they add up to
more than a step's wall time where operations ran side by side.
"""

import collections
import glob
import gzip
import json
import os
import re
import tempfile

import jax

_INSTRUCTION = re.compile(r'^\s*(?:ROOT )?%([\w.-]+) = \S+(?: \S+)*? ([\w-]+)\(')
_CONTAINERS = {'while', 'call', 'conditional'}  # Their time is the operations' they run.


def _kind(name: str) -> str:
  head, _, number = name.rpartition('.')
  return head if head and number.isdigit() else name


def _kinds(hlo_text: str) -> dict[str, str]:
  """Each instruction of an HLO module's text by name -> its kind; loops and calls left out."""
  kinds = {}
  for line in hlo_text.splitlines():
    match = _INSTRUCTION.match(line)
    if match and match.group(2) not in _CONTAINERS:
      kinds[match.group(1)] = _kind(match.group(1))
  return kinds


def seconds_by_kind(compiled, call, sync, calls: int) -> dict[str, float]:
  """Seconds per call() of each kind of operation of `compiled` (its as_text()), traced over `calls` calls, kinds
  in decreasing order."""
  kinds = _kinds(compiled.as_text())
  with tempfile.TemporaryDirectory() as directory:
    jax.profiler.start_trace(directory, create_perfetto_trace=True)
    for _ in range(calls):
      call()
    sync()
    jax.profiler.stop_trace()
    (trace,) = glob.glob(os.path.join(directory, '**', '*perfetto_trace.json.gz'), recursive=True)
    with gzip.open(trace) as f:
      events = json.load(f)['traceEvents']
  totals = collections.Counter()
  for event in events:
    if event.get('ph') == 'X' and event['name'] in kinds:
      totals[kinds[event['name']]] += event['dur'] * 1e-6 / calls  # Microseconds.
  return dict(totals.most_common())
