"""Where metrics go: DIR/metrics.jsonl (one JSON object per log or evaluation), TensorBoard where TensorFlow is
installed (clu's writer), and the log. Only process 0 writes."""
import contextlib
import json
import math
import os

import jax
from absl import logging

from resnet_jax.errors import WriteError


class MetricsWriter:

  """Appends to workdir/metrics.jsonl; a resumed run first drops the rows after its step (it writes them again,
  identically). An evaluation of a trained workdir (evaluation=True) keeps them and writes its rows to
  metrics.jsonl alone, adding no TensorBoard file."""

  def __init__(self, workdir: str, resume_step: int, evaluation: bool = False):
    self.enabled = jax.process_index() == 0
    self.tensorboard = None
    if not self.enabled:
      return
    self.path = os.path.join(workdir, 'metrics.jsonl')
    if not evaluation:
      self._drop_rows_after(resume_step)
    self.file = open(self.path, 'a')
    if evaluation:
      return
    try:
      from clu import metric_writers  # Imports TensorFlow.
      self.tensorboard = metric_writers.SummaryWriter(os.path.join(workdir, 'tensorboard'))
    except ImportError:
      logging.info('TensorFlow is not installed: no TensorBoard events; metrics go to %s.', self.path)

  def _drop_rows_after(self, step: int) -> None:
    if not os.path.exists(self.path):
      return
    with open(self.path) as f:
      rows = [line for line in f if line.strip() and json.loads(line)['step'] <= step]
    with open(self.path, 'w') as f:
      f.writelines(rows)

  def write(self, step: int, split: str, scalars: dict, replica: int | None = None) -> None:
    """One row; `replica` names the net of a run of several (config.num_replicas), None for a run of one."""
    if not self.enabled:
      return
    row = {'step': step, 'split': split, **({'replica': replica} if replica is not None else {}),
           **{k: v if isinstance(v, str) else _finite(v) for k, v in scalars.items()}}
    try:
      self.file.write(json.dumps(row, allow_nan=False) + '\n')
      self.file.flush()
    except OSError as e:
      raise WriteError(f'Could not write {self.path} ({e.strerror or e}): free space or fix permissions there, then '
                       'run the same command to resume from the newest checkpoint.') from None
    if self.tensorboard:
      prefix = split if replica is None else f'{split}/replica{replica}'
      self.tensorboard.write_scalars(step, {f'{prefix}/{k}': v for k, v in row.items()
                                            if k not in ('step', 'split') and isinstance(v, float)})

  def close(self) -> None:
    if self.enabled:
      with contextlib.suppress(OSError):  # Reported by write() already.
        self.file.close()
      if self.tensorboard:
        self.tensorboard.close()


def _finite(value) -> float | None:
  """A float, or None (JSON's null) for NaN and infinities, which JSON cannot hold."""
  value = float(value)
  return value if math.isfinite(value) else None


def read_rows(workdir: str) -> list[dict]:
  """The rows of workdir/metrics.jsonl; none where it does not exist."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def evaluations(workdir: str) -> dict[str, list[dict]]:
  """The evaluation rows of workdir/metrics.jsonl by split, in file order."""
  splits = {}
  for row in read_rows(workdir):
    if row['split'] != 'train':
      splits.setdefault(row['split'], []).append(row)
  return splits
