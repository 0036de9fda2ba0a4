"""The experiment scripts end to end, as a user runs them, on tiny nets and budgets over a generated image folder."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from resnet_jax import workdir as workdirs
from resnet_jax.reproduce import sweep
from tests.helpers import ROOT, assert_refused, markdown_rows, run, tiny_data

EXACT846 = os.path.join(ROOT, '..', 'shared', 'datasets', 'cifar10-test-exact846.npz')


def script(name: str, *args):
  """experiments/NAME run in this process (its runs are processes of their own), which must succeed."""
  done = run(name.removesuffix('.py'), *args)
  assert done.returncode == 0, done.stderr[-3000:]
  return done


def read_csv(path):
  with open(path) as f:
    return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def sweep_args(image_folder, tmp_path_factory):
  root = tmp_path_factory.mktemp('paper')
  cache = tmp_path_factory.mktemp('cache')
  return [
      f'--root={root}',
      '--steps=2',
      '--depths=14',
      *tiny_data(image_folder, cache, '--set='),
  ]


@pytest.fixture(scope='module')
def depth_sweep(sweep_args):
  """plain14 and resnet14-A trained for 2 steps by the depth sweep: (root, its output)."""
  return sweep_args[0].split('=', 1)[1], script('depth_ablation.py', *sweep_args)


def test_a_sweep_of_another_recipe_does_not_take_the_finished_runs_for_its_own(depth_sweep, sweep_args):
  """A finished 2-step run is neither skipped as done nor trained on by a sweep of 8 steps."""
  longer = [arg for arg in sweep_args if not arg.startswith('--steps')] + ['--steps=8', '--launcher=print']
  done = run('depth_ablation', *longer)
  assert_refused(done, "plain14 holds a run of 2 steps, not the sweep's 8: sweep --steps=2 as it was trained, or into")
  assert done.stdout == ''
  other = [arg for arg in sweep_args if not arg.startswith('--set=optimizer')] + ['--set=optimizer.momentum=0.5']
  assert_refused(
      run('depth_ablation', *other, '--launcher=print'),
      "plain14 holds a run trained with optimizer.momentum=0.9, not the sweep's 0.5: sweep with the settings it was "
      'trained with, or into another --root.',
  )


def test_depth_ablation_runs_the_grid_and_reports(depth_sweep, sweep_args):
  root, _ = depth_sweep
  report = os.path.join(root, 'report')
  for name in ('plain14', 'resnet14-A'):
    assert sweep.load(os.path.join(root, 'cifar10', name)).finished
  rows = {r['network']: r for r in read_csv(os.path.join(report, 'table6_cifar10.csv'))}
  assert set(rows) == {'plain14', 'resnet14-A'}
  assert rows['resnet14-A']['run'] == '2 steps' and 0 <= float(rows['plain14']['error % (ours)']) <= 100
  assert os.path.getsize(os.path.join(report, 'fig6_cifar10.png')) > 10_000
  log = os.path.join(root, 'cifar10', 'plain14', 'launch.log')
  before = os.path.getmtime(log)
  again = script('depth_ablation.py', *sweep_args)
  assert 'skipped' in again.stdout and os.path.getmtime(log) == before  # Finished runs are not run again.


def test_shortcut_ablation_writes_a_slurm_array_of_the_unfinished_runs(depth_sweep, sweep_args):
  root, _ = depth_sweep
  out = os.path.join(root, 'shortcut_report')  # Its own output folder: the depth sweep's report stays as written.
  done = script('shortcut_ablation.py', *sweep_args, '--launcher=slurm', '--python=.venv/bin/python', f'--out={out}')
  path = os.path.join(root, 'shortcut_ablation_cifar10.sbatch')
  with open(path) as f:
    text = f.read()
  assert '#SBATCH --array=0-1' in text and path in done.stdout
  assert 'resnet14-B' in text and 'resnet14-C' in text and 'resnet14-A' not in text  # A ran in the depth sweep.
  assert '--config.total_steps=2' in text and '.venv/bin/python' in text
  assert subprocess.run(['bash', '-n', path]).returncode == 0
  rows = read_csv(os.path.join(out, 'shortcuts_cifar10.csv'))
  assert rows[0]['network'] == 'resnet14' and rows[0]['A error %'] and not rows[0]['B error %']


def test_reproduce_tables_rebuilds_from_the_workdirs(depth_sweep):
  root, _ = depth_sweep
  out = os.path.join(root, 'rebuilt')
  stray, broken = os.path.join(root, 'cifar10', 'stray'), os.path.join(root, 'cifar10', 'broken')
  os.makedirs(stray)  # Folders that hold no run: named, not silently left out, and no traceback.
  os.makedirs(broken)
  with open(os.path.join(broken, 'config.json'), 'w') as f:
    f.write('{"model": ')
  try:
    done = script('reproduce_tables.py', f'--root={root}', f'--out={out}', '--jpeg_offset')
  finally:
    shutil.rmtree(stray)
    shutil.rmtree(broken)
  assert f'tables, under {os.path.join(root, "cifar10")}: broken ({broken}/config.json is not a readable' in done.stdout
  assert 'stray (no config.json).' in done.stdout
  tables = ['shortcuts_cifar10', 'table1_imagenet', 'table6_cifar10']
  written = ['README.md', 'fig6_cifar10.png', *(f'{t}.{kind}' for t in tables for kind in ('csv', 'md'))]
  assert sorted(os.listdir(out)) == sorted(written)
  if os.path.exists(EXACT846):  # These nets trained on a generated folder, not on the JPEG copy: no JPEG table.
    assert 'jpeg_offset_cifar10: skipped, no net trained on' in done.stdout
  assert ['resnet14-A', '14'] in [row[:2] for row in markdown_rows(done.stdout)]
  assert '8.75' not in open(os.path.join(out, 'table6_cifar10.md')).read()  # No paper number for depth 14.
  assert 'plain14, resnet14-A trained and tested on folder ' in done.stdout  # What the data was, from config.json.


def test_layer_responses_script(depth_sweep):
  root, _ = depth_sweep
  out = os.path.join(root, 'responses')
  workdirs = ','.join(os.path.join(root, 'cifar10', n) for n in ('plain14', 'resnet14-A'))
  script('layer_responses.py', f'--workdirs={workdirs}', f'--out={out}')
  with open(os.path.join(out, 'layer_responses.md')) as f:
    assert 'plain14, resnet14-A trained and tested on folder ' in f.read()  # From each workdir's config.json.
  rows = read_csv(os.path.join(out, 'layer_responses_all.csv'))
  assert len(rows) == 2 * 13  # The stem and two 3x3 layers in each of 6 blocks.
  assert all(float(r['std']) > 0 for r in rows)
  assert [r['network'] for r in read_csv(os.path.join(out, 'layer_responses.csv'))] == ['plain14', 'resnet14-A']
  assert os.path.getsize(os.path.join(out, 'fig7_layer_responses.png')) > 10_000


def test_layer_deletion_script(depth_sweep):
  root, _ = depth_sweep
  out = os.path.join(root, 'deletion')
  workdirs = ','.join(os.path.join(root, 'cifar10', n) for n in ('resnet14-A', 'plain14'))
  script('layer_deletion.py', f'--workdirs={workdirs}', f'--out={out}', '--draws=2', '--swaps=1', '--path_samples=1')
  with open(os.path.join(out, 'deletion.md')) as f:
    assert 'plain14, resnet14-A trained and tested on folder ' in f.read()
  single = read_csv(os.path.join(out, 'single_deletion.csv'))
  assert [r['block'] for r in single] == ['1.1', '1.2', '2.1', '2.2', '3.1', '3.2'] * 2
  assert [r['network'] for r in single[::6]] == ['resnet14-A', 'plain14']
  assert single[8]['error %'] == 'nan' and single[2]['error %'] != 'nan'  # A plain transition stays.
  assert len(read_csv(os.path.join(out, 'random_deletion.csv'))) == 2 * 4 * 2  # 2 nets, k = 1..4, 2 draws.
  assert len(read_csv(os.path.join(out, 'reordering.csv'))) == 2 * 2
  assert len(read_csv(os.path.join(out, 'paths_resnet14-A.csv'))) == 7  # Lengths 0..6; none for the plain net.
  assert not os.path.exists(os.path.join(out, 'paths_plain14.csv'))
  for figure in ('fig_deletion.png', 'paths_resnet14-A.png'):
    assert os.path.getsize(os.path.join(out, figure)) > 10_000


def test_the_reports_index_reads_the_studies_records(depth_sweep):
  """Studies run into the report's folder give the index a verdict on each claim, at the budget they ran."""
  root, _ = depth_sweep
  out = os.path.join(root, 'studied')
  workdirs = ','.join(os.path.join(root, 'cifar10', n) for n in ('plain14', 'resnet14-A'))
  script('layer_responses.py', f'--workdirs={workdirs}', f'--out={out}')
  script('layer_deletion.py', f'--workdirs={workdirs}', f'--out={out}', '--draws=1', '--swaps=1', '--path_samples=1')
  script('ensemble.py', f'--workdirs={workdirs}', f'--out={os.path.join(out, "both")}')
  done = script('reproduce_tables.py', f'--root={root}', f'--out={out}')
  rows = {(row[0], row[1]): row for row in markdown_rows(open(os.path.join(out, 'README.md')).read())[1:]}
  responses = rows['He et al. 2015', 'Fig. 7']
  assert responses[6].startswith(('reproduced (resnet14-A ', 'not reproduced (resnet14-A ')), responses
  assert responses[5].startswith('short budget: 2 steps (')
  assert rows['Veit et al. 2016', 'Fig. 3'][6].startswith(('reproduced (', 'not reproduced ('))
  assert (
      rows['Veit et al. 2016', 'Fig. 6'][3]
      == '[paths_resnet14-A.md](paths_resnet14-A.md), [paths_resnet14-A.png](paths_resnet14-A.png)'
  )
  assert rows['He et al. 2015', 'Table 5'][6].startswith('partial: CIFAR-10 only')
  assert ['both', 'cifar10', '2', 'plain14, resnet14-A'] in [row[:4] for row in markdown_rows(done.stdout)]


def test_depth_sweep_of_replicas_reports_best_mean_std(image_folder, tmp_path):
  """--replicas=2: each network's seeds trained in one run (ROOT/cifar10/<net>-x2), Table 6 in the paper's format."""
  root = tmp_path / 'paper'
  done = script(
      'depth_ablation.py',
      f'--root={root}',
      '--steps=2',
      '--depths=8',
      '--replicas=2',
      *tiny_data(image_folder, tmp_path, '--set='),
  )
  assert sorted(os.listdir(root / 'cifar10')) == ['plain8-x2', 'resnet8-A-x2']
  assert '] resnet8-A-x2: done in' in done.stdout  # Named as its workdir is.
  rows = {r['network']: r for r in read_csv(root / 'report' / 'table6_cifar10.csv')}
  for name in ('plain8', 'resnet8-A'):
    best, spread = rows[name]['error % (ours)'].split(' ')
    mean, std = spread.strip('()').split('±')
    assert float(best) <= float(mean) and float(std) >= 0 and rows[name]['run'] == '2 steps, 2 seeds'
  assert os.path.getsize(root / 'report' / 'fig6_cifar10.png') > 10_000


def local_sweep(image_folder, tmp_path) -> tuple[list[str], subprocess.Popen]:
  """(the command, its process) of a local sweep of plain8 and resnet8-A, 200 steps each, on the tiny folder."""
  args = [
      sys.executable,
      'experiments/depth_ablation.py',
      '--launcher=local',
      f'--root={tmp_path}',
      '--depths=8',
      '--steps=200',
      *tiny_data(image_folder, tmp_path / 'cache', '--set='),
  ]
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu'}
  return args, subprocess.Popen(args, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_signal_to_a_local_sweep_while_its_run_starts_stops_both(image_folder, tmp_path):
  """Ctrl-C to the sweep as its run starts: the run stops before it has anything to save, and the sweep says so
  and ends as it does when the run saved (not as a failed run)."""
  _, sweep_process = local_sweep(image_folder, tmp_path)
  log, deadline = tmp_path / 'cifar10' / 'plain8' / 'launch.log', time.time() + 300
  while not log.exists() and time.time() < deadline:
    time.sleep(0.01)
  sweep_process.send_signal(signal.SIGINT)
  out, err = sweep_process.communicate(timeout=300)
  assert sweep_process.returncode == 0 and 'Traceback' not in err, err[-3000:]
  assert '[1/2] plain8: stopped, saved at step ' in out and 'FAILED' not in out, out


def test_a_signal_to_a_local_sweep_saves_its_run_and_the_sweep_resumes(image_folder, tmp_path):
  """Ctrl-C to the sweep (not to its run, which has a session of its own) reaches the run once: it saves, the
  sweep says where it stopped and ends; the same command then finishes it."""
  args, sweep_process = local_sweep(image_folder, tmp_path)
  log = tmp_path / 'cifar10' / 'plain8' / 'launch.log'
  deadline = time.time() + 300
  while not (log.exists() and 'step ' in log.read_text()) and time.time() < deadline:
    time.sleep(0.5)
  sweep_process.send_signal(signal.SIGINT)
  out, err = sweep_process.communicate(timeout=300)
  assert sweep_process.returncode == 0, err[-3000:]
  assert '[1/2] plain8: stopped, saved at step ' in out and 'Sweep stopped by a signal after plain8' in out, out
  assert 'resnet8-A: running' not in out and 'Traceback' not in err
  saved = workdirs.step_dirs(str(tmp_path / 'cifar10' / 'plain8'))
  assert saved and saved[-1] < 200
  again = script('depth_ablation.py', *args[2:])
  assert f'resuming at step {saved[-1]} of 200' in log.read_text()
  assert '[1/2] plain8: done' in again.stdout and '[2/2] resnet8-A: done' in again.stdout
