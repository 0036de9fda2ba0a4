"""Where metrics go: DIR/metrics.jsonl (one JSON object per log or evaluation), TensorBoard where TensorFlow is
installed (clu's writer), and the log. Only process 0 writes."""
import json
import os

import jax
from absl import logging


class MetricsWriter:

  """Appends to workdir/metrics.jsonl; a resumed run first drops the rows after its step (it writes them again,
  identically), an evaluation (keep_later) keeps them."""

  def __init__(self, workdir: str, resume_step: int, keep_later: bool = False):
    self.enabled = jax.process_index() == 0
    if not self.enabled:
      return
    self.path = os.path.join(workdir, 'metrics.jsonl')
    if not keep_later:
      self._drop_rows_after(resume_step)
    self.file = open(self.path, 'a')
    try:
      from clu import metric_writers  # Imports TensorFlow.
      self.tensorboard = metric_writers.SummaryWriter(os.path.join(workdir, 'tensorboard'))
    except ImportError:
      logging.info('TensorFlow is not installed: no TensorBoard events; metrics go to %s.', self.path)
      self.tensorboard = None

  def _drop_rows_after(self, step: int) -> None:
    if not os.path.exists(self.path):
      return
    with open(self.path) as f:
      rows = [line for line in f if line.strip() and json.loads(line)['step'] <= step]
    with open(self.path, 'w') as f:
      f.writelines(rows)

  def write(self, step: int, split: str, scalars: dict) -> None:
    if not self.enabled:
      return
    row = {'step': step, 'split': split, **{k: v if isinstance(v, str) else float(v) for k, v in scalars.items()}}
    self.file.write(json.dumps(row) + '\n')
    self.file.flush()
    if self.tensorboard:
      self.tensorboard.write_scalars(step, {f'{split}/{k}': v for k, v in row.items()
                                            if k not in ('step', 'split') and not isinstance(v, str)})

  def close(self) -> None:
    if self.enabled:
      self.file.close()
      if self.tensorboard:
        self.tensorboard.close()


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
