"""reporting.py: the tables read what the runs recorded (their config.json, metrics rows and model.json), and say
what a run did not record."""

import json

import configs
from resnet_jax import models
from resnet_jax.reproduce import reporting, sweep
from resnet_jax.workdir import write_model


def result(tmp_path, variant: str, recorded: bool) -> sweep.Result:
  config = configs.named('cifar10', variant)
  workdir = tmp_path / variant
  workdir.mkdir()
  if recorded:
    write_model(str(workdir), models.summary(config))
  rows = [{'step': config.total_steps, 'split': 'test', 'loss': 1.0, 'top1_error': 9.0}]
  return sweep.Result(models.model_name(config.model), str(workdir), json.loads(config.to_json()), rows)


def test_the_depth_table_reads_the_recorded_parameters_and_names_the_runs_without(tmp_path):
  results = {r.name: r for r in (result(tmp_path, 'resnet20', True), result(tmp_path, 'plain20', False))}
  table = open(reporting.cifar_depth_table(results, str(tmp_path / 'report'))).read()
  assert '| resnet20-A | 20 | 0.27M | 0.27M | 9.00 |' in table
  assert '| plain20 | 20 | - |' in table
  assert '- Parameters "-": plain20 recorded none (no model.json in the workdir).' in table


def test_an_unfinished_run_names_the_step_it_logged_and_its_newest_checkpoint(tmp_path):
  """The studies read the newest checkpoint, which may lag the rows logged after it."""
  run = result(tmp_path, 'resnet20', True)
  run.rows[0]['step'] = 150
  assert reporting.status(run) == 'unfinished: step 150 of 64,000, no checkpoint yet'
  (tmp_path / 'resnet20' / 'checkpoints' / '145').mkdir(parents=True)
  assert reporting.status(run) == 'unfinished: step 150 of 64,000, its newest checkpoint at step 145'


def test_table4_puts_each_protocols_evaluation_beside_the_papers(tmp_path):
  config = configs.named('imagenet', 'resnet50')
  (tmp_path / 'resnet50-B').mkdir()
  rows = [{'step': config.total_steps, 'split': 'val', 'loss': 1.0, 'top1_error': 25.0, 'top5_error': 8.0}]
  for protocol, top1, top5 in (('ten_crop', 23.5, 7.0), ('multi_scale', 22.25, 6.5)):
    rows.append(
        {'step': config.total_steps, 'split': 'val', 'loss': 1.0, 'top1_error': top1, 'top5_error': top5}
        | {'protocol': protocol, 'mode': 'eval'}
    )
  run = sweep.Result('resnet50-B', str(tmp_path / 'resnet50-B'), json.loads(config.to_json()), rows)
  table = open(reporting.imagenet_table4({'resnet50-B': run}, str(tmp_path / 'report'))).read()
  assert '| resnet50-B | 23.50 | 22.85 | 7.00 | 6.71 | 22.25 | 20.74 | 6.50 | 5.25 |' in table
  assert '| resnet152-B | - | 21.43 | - | 5.71 | - | 19.38 | - | 4.49 | - |' in table  # Not run: the paper's alone.
  run.rows = rows[:2]  # Evaluated with 10 crops only: no multi-scale number is made up from another protocol.
  table = open(reporting.imagenet_table4({'resnet50-B': run}, str(tmp_path / 'report'))).read()
  assert '| resnet50-B | 23.50 | 22.85 | 7.00 | 6.71 | - | 20.74 | - | 5.25 |' in table
