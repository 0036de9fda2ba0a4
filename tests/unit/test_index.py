"""The report's index (resnet_jax/reproduce/index.py): every table and figure of both papers, its status from the
runs and records a root holds, the verdicts on the papers' claims, and the commands that fill what is missing."""

import json

import ml_collections
import numpy as np

import configs
from resnet_jax.models import model_name
from resnet_jax.reproduce import index, reporting, sweep
from tests.helpers import markdown_rows

ITEMS = [('He et al. 2015', label) for label in ('Table 1', 'Table 2', 'Table 3', 'Table 4', 'Table 5', 'Table 6')] + [
    ('He et al. 2015', f'Fig. {n}') for n in (1, 4, 6, 7)
]
ITEMS += [('Veit et al. 2016', f'Fig. {n}') for n in ('3', '5a', '5b', '6')]


def run_of(root, variant: str, steps: int, finished: bool = True, seeds: int = 1) -> sweep.Result:
  """A run of configs/cifar10.py:VARIANT at a budget of `steps`, as its workdir records it."""
  config = json.loads(configs.named('cifar10', variant).to_json())
  config.update(total_steps=steps, dataset={**config['dataset'], 'source': 'folder', 'dir': '/data/cifar'})
  config.update(num_replicas=seeds, batch_size=64)
  step = steps if finished else steps // 2
  rows = [{'step': step, 'split': 'train', 'loss': 1.0, 'top1_error': 30.0}]
  rows += [{'step': step, 'split': 'test', 'loss': 1.0, 'top1_error': 20.0}]
  name = model_name(ml_collections.ConfigDict(config['model']))
  return sweep.Result(name, str(root / 'cifar10' / name), config, rows)


def statuses(readme: str) -> dict:
  return {(row[0], row[1]): row for row in markdown_rows(readme)[1:]}


def test_the_index_names_every_item_with_its_status_and_the_command_that_fills_it(tmp_path):
  runs = [run_of(tmp_path, v, 300) for v in ('plain20', 'plain56', 'resnet20', 'resnet56')]
  runs.append(run_of(tmp_path, 'resnet110', 300, finished=False))
  out = tmp_path / 'report'
  reporting.write_record(
      str(out / 'ensemble_cifar10'),
      'ensemble',
      {
          'dataset': 'cifar10',
          'split': 'test',
          'protocol': 'one view',
          'members': [{'network': 'resnet20-A', 'budget': 'short budget: 300 steps (0.47% of the recipe)', 'data': 'x'}]
          * 3,
          'members_mean': {'top1_error': 20.0, 'top5_error': 2.0},
          'top1_error': 18.0,
          'top5_error': 1.5,
      },
  )
  readme = open(index.write_index(str(tmp_path), str(out), {'cifar10': {r.name: r for r in runs}})).read()
  found = statuses(readme)
  assert list(found) == ITEMS
  assert found['He et al. 2015', 'Fig. 1'][6] == 'measured'
  assert found['He et al. 2015', 'Fig. 1'][5] == 'short budget: 300 steps (0.23% of the recipe); tested as trained'
  assert found['He et al. 2015', 'Table 6'][6] == (
      'partial: 3 of 5 runs, missing resnet32-A, resnet44-A; unfinished: resnet110-A (commands below)'
  )
  assert found['He et al. 2015', 'Table 2'][6] == 'not run (commands below)'
  assert found['He et al. 2015', 'Table 5'][6].startswith('partial: CIFAR-10 only, ImageNet not run')
  assert found['He et al. 2015', 'Table 1'][6].startswith('measured')
  for item in ('Fig. 3', 'Fig. 5a', 'Fig. 5b', 'Fig. 6'):
    assert found['Veit et al. 2016', item][6] == 'not run (commands below)'
  commands = readme.split('## What fills the rest')[1]
  sweep_command = (
      f'`python experiments/depth_ablation.py --dataset=cifar10 --root={tmp_path} --set=batch_size=64 '
      '--set=dataset.dir=/data/cifar --set=dataset.source=folder --steps=300`'
  )
  assert f'- He et al. 2015, Table 6: {sweep_command}' in commands
  deletion = f'--workdirs={tmp_path}/cifar10/resnet110-A,{tmp_path}/cifar10/plain110 --out={out}'
  assert f'- Veit et al. 2016, Fig. 3: {sweep_command}; then `python experiments/layer_deletion.py {deletion}`' in (
      commands
  )
  assert '--config=configs/imagenet.py:resnet50 --workdir=' in commands  # Table 3's deeper nets: no sweep has them.
  assert '--dataset=imagenet' in commands and 'dataset.dir=IMAGENET_DIR' in commands


def net(name, residual, depth, **facts):
  return {'name': name, 'residual': residual, 'depth': depth, 'classes': 10, 'budget': 'b', **facts}


def test_rank_correlation_is_spearmans_rho_with_ties_at_their_mean_rank():
  assert index.rank_correlation([[1, 3], [2, 2], [3, 1]]) == -1.0
  assert abs(index.rank_correlation([[1, 1], [2, 2], [2, 3], [4, 4]]) - 0.9486832980505138) < 1e-12  # scipy's.
  assert np.isnan(index.rank_correlation([[1, 1], [1, 2]]))


def test_the_verdicts_hold_our_numbers_against_the_papers_claims():
  smaller = [net('plain20', False, 20, mean_std=2.0), net('resnet20-A', True, 20, mean_std=1.0)]
  assert index.verdict(index.responses_checks(smaller), '').startswith('reproduced (resnet20-A 1 < plain20 2)')
  larger = [net('plain20', False, 20, mean_std=1.0), net('resnet20-A', True, 20, mean_std=2.0)]
  assert index.verdict(index.responses_checks(larger), '') == 'not reproduced (resnet20-A 2 not below plain20 1)'
  assert index.verdict(index.responses_checks(larger[:1]), 'no pair') == 'measured; no verdict: no pair'

  deletion = [
      net('resnet56-A', True, 56, baseline=10.0, single_deletion_mean=14.0),  # Barely changes.
      net('plain56', False, 56, baseline=12.0, single_deletion_mean=85.0),  # Near chance (90%).
  ]
  assert index.verdict(index.single_deletion_checks(deletion), '').startswith('reproduced')
  deletion[0]['single_deletion_mean'] = 70.0
  assert index.verdict(index.single_deletion_checks(deletion), '').startswith(
      'not reproduced (resnet56-A 10.0% -> 70.0%'
  )

  rising = net('resnet56-A', True, 56, random_deletion=[[1, 10.0], [2, 12.0], [3, 15.0], [4, 19.0]])
  assert index.verdict(index.random_deletion_checks([rising]), '') == 'reproduced (resnet56-A: rho(k, error) 1.00)'
  falling = net('resnet56-A', True, 56, random_deletion=[[1, 19.0], [2, 15.0], [3, 12.0]])
  assert index.verdict(index.random_deletion_checks([falling]), '').startswith('not reproduced')
  reordered = net('resnet56-A', True, 56, reordering=[[1.0, 10.0], [0.8, 11.0], [0.5, 14.0], [0.2, 20.0]])
  assert index.verdict(index.reordering_checks([reordered]), '').startswith(
      'reproduced (resnet56-A: rho(tau, error) -1.00'
  )
  short = net('resnet56-A', True, 56, paths={'blocks': 27, 'gradient_90_low': 2, 'gradient_90_high': 9})
  assert (
      index.verdict(index.path_checks([short]), '')
      == 'reproduced (resnet56-A: 90% of the gradient from paths of length 2 to 9, against half its 27 blocks, 13.5)'
  )
  short['paths']['gradient_90_high'] = 20
  assert index.verdict(index.path_checks([short]), '').startswith('not reproduced')


def test_an_unreadable_record_is_named_and_left_out(tmp_path, caplog):
  good = {'nets': [{'name': 'resnet20-A', 'residual': True, 'depth': 20, 'budget': 'b', 'mean_std': 1.0}]}
  reporting.write_record(str(tmp_path / 'a'), 'layer_responses', good)
  (tmp_path / 'b').mkdir()
  (tmp_path / 'b' / 'layer_responses.json').write_text('{"nets": ')
  assert reporting.read_records(str(tmp_path), 'layer_responses') == [
      (str(tmp_path / 'a' / 'layer_responses.json'), good)
  ]
  assert f'Left out of the report: {tmp_path / "b" / "layer_responses.json"}, which cannot be read' in caplog.text


def test_the_commands_repeat_what_the_roots_runs_were_made_with(tmp_path):
  """A root of three seeds per network gets commands that add runs of three seeds, where the sweep puts them."""
  runs = {r.name: r for r in (run_of(tmp_path, v, 300, seeds=3) for v in ('plain20', 'resnet20'))}
  readme = open(index.write_index(str(tmp_path), str(tmp_path / 'report'), {'cifar10': runs})).read()
  assert '--set=dataset.source=folder --steps=300 --replicas=3`' in readme
  assert f'--workdirs={tmp_path}/cifar10/resnet110-A-x3,{tmp_path}/cifar10/plain110-x3 ' in readme


def test_fig7_without_a_plain_twin_is_partial(tmp_path):
  nets = [
      {'name': f'resnet{d}-A', 'residual': True, 'depth': d, 'budget': 'b', 'mean_std': 3.0 - d / 20} for d in (20, 56)
  ]
  reporting.write_record(str(tmp_path), 'layer_responses', {'nets': nets})
  readme = open(index.write_index(str(tmp_path), str(tmp_path), {})).read()
  status = statuses(readme)['He et al. 2015', 'Fig. 7'][6]
  assert status == 'partial, no plain net beside a ResNet: reproduced (resnet56-A 0.2 < resnet20-A 2) (commands below)'


def test_a_record_that_does_not_hold_what_the_report_reads_is_left_out(tmp_path, caplog):
  good = {'nets': [{'name': 'resnet20-A', 'residual': True, 'depth': 20, 'budget': 'b', 'mean_std': 1.0}]}
  bad = {
      'list': [],
      'empty': {},
      'none': {'nets': None},
      'strings': {'nets': ['x']},
      'missing': {'nets': [{**good['nets'][0], 'mean_std': None}]},
      'nan': {'nets': [{**good['nets'][0], 'mean_std': float('nan')}]},
      'text': {'nets': [{**good['nets'][0], 'depth': '20'}]},
  }
  reporting.write_record(str(tmp_path / 'good'), 'layer_responses', good)
  for name, record in bad.items():
    reporting.write_record(str(tmp_path / name), 'layer_responses', record)
  assert [p for p, _ in reporting.read_records(str(tmp_path), 'layer_responses')] == [
      str(tmp_path / 'good' / 'layer_responses.json')
  ]
  for name, why in [
      ('list', 'it is not a JSON object'),
      ('nan', 'nets[0].mean_std is NaN'),
      ('text', 'nets[0].depth is "20"'),
  ]:
    assert f'{tmp_path / name / "layer_responses.json"}, which is no layer_responses record: {why}.' in caplog.text
