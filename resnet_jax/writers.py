"""Where a run's results go: DIR/metrics.jsonl (one JSON object per log or evaluation) and DIR/tensorboard/
(TensorBoard's own event writer, no TensorFlow), written by process 0; and every log record to a file (log_file)."""

import contextlib
import itertools
import json
import logging
import math
import os
import socket
import time

import jax
from absl import logging as absl_logging

from resnet_jax import replicas
from resnet_jax.errors import ConfigError, WriteError

log = logging.getLogger(__name__)


class MetricsWriter:
  """Appends to workdir/metrics.jsonl and to TensorBoard events in workdir/tensorboard/ (tags SPLIT/METRIC, or
  SPLIT/replicaK/METRIC); a resumed run first drops the rows after its step (it writes them again, identically). An
  evaluation of a trained workdir (evaluation=True) keeps them and writes its rows, marked "mode": "eval" (and
  with `marks`), to metrics.jsonl alone, adding no TensorBoard file; where metrics.jsonl cannot be written (a
  read-only copy) it says so once and writes nothing. Either first moves damaged lines (a row cut short by a kill
  or a full disk) to metrics.jsonl.damaged, so that what it appends to is whole rows."""

  def __init__(self, workdir: str, resume_step: int, evaluation: bool = False, marks: dict | None = None):
    self.enabled = jax.process_index() == 0
    self.tensorboard, self.file, self.mark = None, None, {'mode': 'eval', **(marks or {})} if evaluation else {}
    if not self.enabled:
      return
    self.path = os.path.join(workdir, 'metrics.jsonl')
    if evaluation:
      try:
        self._keep_rows(lambda row: True)
        self.file = open(self.path, 'a')
      except OSError as e:
        log.warning('%s cannot be written (%s): the results are shown, not recorded.', self.path, e.strerror or e)
      return
    self._keep_rows(lambda row: row['step'] <= resume_step)
    self.file = open(self.path, 'a')
    self.tensorboard = EventWriter(os.path.join(workdir, 'tensorboard'), resume_step)

  def _keep_rows(self, keep) -> None:
    """Leaves in metrics.jsonl the rows that `keep`, moving its damaged lines to metrics.jsonl.damaged."""
    if not os.path.exists(self.path):
      return
    rows, damaged = _lines_and_rows(self.path)
    kept = [line for line, row in rows if keep(row)]
    if len(kept) == len(rows) and not damaged:
      return
    if damaged:
      with open(self.path + '.damaged', 'a', encoding='utf-8', errors='surrogateescape') as f:
        f.writelines(line if line.endswith('\n') else line + '\n' for _, line, _ in damaged)
      log.warning('%s: moved %s to %s.damaged.', self.path, _damage_text(damaged), self.path)
    with open(self.path + '.tmp', 'w') as f:
      f.writelines(kept)
    os.replace(self.path + '.tmp', self.path)

  def write(self, step: int, split: str, scalars: dict, replica: int | None = None) -> None:
    """One row; `replica` names the net of a run of several (config.num_replicas), None for a run of one."""
    if not self.file:
      return
    row = {
        'step': step,
        'split': split,
        **replicas.row_fields(replica),
        **self.mark,
        **{k: v if isinstance(v, str) else _finite(v) for k, v in scalars.items()},
    }
    try:
      self.file.write(json.dumps(row, allow_nan=False) + '\n')
      self.file.flush()
      if self.tensorboard:
        prefix = replicas.tag_prefix(split, replica)
        self.tensorboard.write(
            scalars_event(
                step,
                {f'{prefix}/{k}': v for k, v in row.items() if k not in ('step', 'split') and isinstance(v, float)},
            )
        )
    except OSError as e:
      raise WriteError(
          f'Could not write in {os.path.dirname(self.path)} ({e.strerror or e}): free space or fix '
          'permissions there, then run the same command to resume from the newest checkpoint.'
      ) from None

  def close(self) -> None:
    if self.file:
      with contextlib.suppress(OSError):  # Reported by write() already.
        self.file.close()
        if self.tensorboard:
          self.tensorboard.close()


_FILE_NUMBERS = itertools.count()  # Two writers of one process in one second get two files.


class EventWriter:
  """A new TensorBoard event file in logdir (records of Event protos, as tf.summary writes them), written with plain
  file calls by the tensorboard package's RecordWriter: where TensorFlow is installed too, it is not imported. A run
  resumed at `resume_step` marks its start, so that TensorBoard drops what earlier files logged after that step
  (the resumed run logs it again)."""

  def __init__(self, logdir: str, resume_step: int):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    os.makedirs(logdir, exist_ok=True)
    name = f'events.out.tfevents.{time.time():010.0f}.{socket.gethostname()}.{os.getpid()}.{next(_FILE_NUMBERS)}'
    self.records = RecordWriter(open(os.path.join(logdir, name), 'wb'))
    self.write(event_pb2.Event(wall_time=time.time(), file_version='brain.Event:2'))
    self.write(
        event_pb2.Event(
            wall_time=time.time(),
            step=resume_step + 1,  # Purges steps from resume_step + 1 on.
            session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START),
        )
    )

  def write(self, event) -> None:
    self.records.write(event.SerializeToString())
    self.records.flush()

  def close(self) -> None:
    self.records.close()


def scalars_event(step: int, scalars: dict[str, float]):
  """A TensorBoard event of named scalars at `step`, each a scalars-plugin summary as tf.summary.scalar writes it."""
  from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

  metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name='scalars'))
  values = [
      summary_pb2.Summary.Value(
          tag=tag, metadata=metadata, tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value])
      )
      for tag, value in scalars.items()
  ]
  return event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=values))


def _finite(value) -> float | None:
  """A float, or None (JSON's null) for NaN and infinities, which JSON cannot hold."""
  value = float(value)
  return value if math.isfinite(value) else None


METRICS = ('loss', 'top1_error', 'top5_error')  # What a row's numbers may be named (also learning_rate, ...).


def _number(value) -> bool:
  return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


SPLITS = ('train', 'test', 'val')  # What runs write rows of: training, and CIFAR's or ImageNet's held-out split.


def _no_constant(name: str):
  raise ValueError(f'{name} is no JSON number')


def _row_error(line: str) -> str | None:
  """Why a line of metrics.jsonl is not a row a run writes, or None: a JSON object with a step of at least 0, a
  split of SPLITS, numbers (or null, for a non-finite training metric) for its metrics, errors within 0..100 %,
  and an evaluation's top-1 error."""
  try:
    line.encode()
    row = json.loads(line, parse_constant=_no_constant)
  except UnicodeEncodeError:
    return 'not UTF-8 text'
  except ValueError as e:
    return f'not JSON ({e})'
  if not isinstance(row, dict) or type(row.get('step')) is not int or row['step'] < 0:
    return 'not a row with a "step" of at least 0'
  if row.get('split') not in SPLITS:
    return f'a row without a "split" of {", ".join(SPLITS)}'
  if bad := [key for key in METRICS if key in row and not _number(row[key])]:
    return f'a row whose {bad[0]} is not a number'
  if bad := [
      key for key in METRICS if key.endswith('_error') and row.get(key) is not None and not 0 <= row[key] <= 100
  ]:
    return f'a row whose {bad[0]} is not within 0 and 100'
  if row['split'] != 'train' and row.get('top1_error') is None:
    return 'an evaluation row without a top1_error'
  return None


def _lines_and_rows(path: str) -> tuple[list[tuple[str, dict]], list[tuple[int, str, str]]]:
  """([(line, row)] of the rows of the metrics.jsonl at path, [(number, line, why)] of its damaged lines: a row cut
  short by a kill or a full disk, or a line that is no row)."""
  with open(path, encoding='utf-8', errors='surrogateescape') as f:  # Bytes that are no UTF-8 kept, as damage.
    lines = f.readlines()
  rows, damaged = [], []
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    if error := _row_error(line):
      damaged.append((number, line, error))
    else:
      rows.append((line if line.endswith('\n') else line + '\n', json.loads(line)))
  return rows, damaged


def _damage_text(damaged) -> str:
  number, _, why = damaged[0]
  return f'{len(damaged)} damaged line{"s" if len(damaged) > 1 else ""} (line {number}: {why})'


def read_rows(workdir: str) -> list[dict]:
  """The rows of workdir/metrics.jsonl; none where it does not exist."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return []
  if os.path.isdir(path):
    raise ConfigError(f'{path} is a directory, not the metrics file: move it aside.')
  rows, damaged = _lines_and_rows(path)
  if damaged:
    log.warning('%s: left out %s.', path, _damage_text(damaged))
  return [row for _, row in rows]


def evaluations(workdir: str) -> dict[str, list[dict]]:
  """Training's own evaluation rows of workdir/metrics.jsonl (not those of an evaluation of the workdir, which may
  have run beside it) by split, in file order."""
  splits = {}
  for row in read_rows(workdir):
    if row['split'] != 'train' and row.get('mode') != 'eval':
      splits.setdefault(row['split'], []).append(row)
  return splits


class _LogFile(logging.FileHandler):
  """A log file that never interrupts the run: a record it cannot write (disk full) is dropped."""

  def handleError(self, record) -> None:
    del record

  def close(self) -> None:
    with contextlib.suppress(OSError):
      super().close()


@contextlib.contextmanager
def log_file(path: str):
  """Appends every log record, INFO and above, to `path` while the context lasts."""
  handler = _LogFile(path)
  handler.setLevel(logging.INFO)
  handler.setFormatter(absl_logging.PythonFormatter())  # absl's lines: level, time, file and line.
  root = logging.getLogger()
  root.addHandler(handler)
  try:
    yield
  finally:
    root.removeHandler(handler)
    handler.close()
