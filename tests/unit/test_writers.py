"""writers.py: metrics.jsonl and TensorBoard events, written without TensorFlow and read by TensorBoard itself."""

import os
import subprocess
import sys

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.data import provider

from resnet_jax.progress import final_line
from resnet_jax.writers import MetricsWriter, read_rows
from tests.helpers import ROOT

WRITE = """
import sys
from resnet_jax.writers import MetricsWriter
writer = MetricsWriter(sys.argv[1], 0)
writer.write(1, 'train', {'loss': 2.5, 'top1_error': 80.0, 'learning_rate': 0.1})
writer.write(2, 'test', {'loss': 2.0, 'top1_error': 70.0, 'protocol': 'ten_crop'})
writer.write(2, 'test', {'loss': 1.5, 'top1_error': 60.0}, replica=1)
writer.close()
print('tensorflow' in sys.modules)
"""


def scalars(logdir) -> dict[str, list[tuple[int, float]]]:
  """Every scalar of logdir's runs as TensorBoard's scalars dashboard reads it: tag -> [(step, value)]."""
  multiplexer = plugin_event_multiplexer.EventMultiplexer()
  multiplexer.AddRunsFromDirectory(str(logdir))
  multiplexer.Reload()
  reader, request = data_provider.MultiplexerDataProvider(multiplexer, str(logdir)), context.RequestContext()
  found = {}
  for run, tags in reader.list_scalars(request, experiment_id='', plugin_name='scalars').items():
    read = reader.read_scalars(
        request,
        experiment_id='',
        plugin_name='scalars',
        downsample=100,
        run_tag_filter=provider.RunTagFilter(runs=[run], tags=list(tags)),
    )
    for tag, points in read[run].items():
      found[tag] = [(point.step, pytest.approx(point.value)) for point in points]
  return found


def test_tensorboard_events_need_no_tensorflow_and_open_in_tensorboard(tmp_path):
  written = subprocess.run(
      [sys.executable, '-c', WRITE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=True
  )
  assert written.stdout.strip() == 'False'  # Writing imported no TensorFlow.
  assert scalars(tmp_path / 'tensorboard') == {
      'train/loss': [(1, 2.5)],
      'train/top1_error': [(1, 80.0)],
      'train/learning_rate': [(1, 0.1)],
      'test/loss': [(2, 2.0)],
      'test/top1_error': [(2, 70.0)],
      'test/replica1/loss': [(2, 1.5)],
      'test/replica1/top1_error': [(2, 60.0)],
  }
  assert [row['split'] for row in read_rows(tmp_path)] == ['train', 'test', 'test']


def test_a_resumed_run_replaces_what_it_logs_again(tmp_path):
  """Killed after logging step 3, resumed from its checkpoint at step 2: TensorBoard shows steps 1-3 once, step 3
  as the resumed run logged it, as metrics.jsonl does."""
  first = MetricsWriter(str(tmp_path), 0)
  for step in (1, 2, 3):
    first.write(step, 'train', {'loss': float(step)})
  first.close()
  resumed = MetricsWriter(str(tmp_path), 2)
  resumed.write(3, 'train', {'loss': 30.0})
  resumed.close()
  assert scalars(tmp_path / 'tensorboard') == {'train/loss': [(1, 1.0), (2, 2.0), (3, 30.0)]}
  assert [(row['step'], row['loss']) for row in read_rows(tmp_path)] == [(1, 1.0), (2, 2.0), (3, 30.0)]
  assert len(os.listdir(tmp_path / 'tensorboard')) == 2


def test_the_final_line_names_only_what_was_written(tmp_path):
  writer = MetricsWriter(str(tmp_path), 0, evaluation=True)  # metrics.jsonl alone.
  writer.write(4, 'test', {'loss': 1.0, 'top1_error': 30.0})
  writer.close()
  line = final_line(str(tmp_path), 5.0)
  assert line.endswith(f'Results in {tmp_path}: metrics.jsonl.') and 'tensorboard' not in line
  os.makedirs(tmp_path / 'checkpoints')
  assert final_line(str(tmp_path), 5.0).endswith('metrics.jsonl, checkpoints/.')


def test_the_final_line_reads_the_evaluations_of_training_alone(tmp_path):
  """An evaluation of the workdir run beside training (--mode=eval) writes rows of its own: not training's best."""
  writer = MetricsWriter(str(tmp_path), 0)
  writer.write(100, 'test', {'loss': 1.0, 'top1_error': 50.0})
  beside = MetricsWriter(str(tmp_path), 0, evaluation=True)
  beside.write(150, 'test', {'loss': 0.5, 'top1_error': 10.0})
  beside.close()
  writer.write(200, 'test', {'loss': 0.9, 'top1_error': 40.0})
  writer.close()
  assert 'test error 40.00% (best 40.00% at step 200).' in final_line(str(tmp_path), 5.0)
