"""experiments/reproduce_tables.py: the report of a root, whatever it holds yet."""

import os

from tests.helpers import assert_refused, markdown_rows, read_only, run


def test_the_report_of_an_empty_root_is_its_index(tmp_path):
  assert_refused(
      run('reproduce_tables', f'--root={tmp_path / "nowhere"}'), 'does not exist: name the root of the sweeps'
  )
  done = run('reproduce_tables', f'--root={tmp_path}')
  assert done.returncode == 0, done.stderr
  readme = (tmp_path / 'report' / 'README.md').read_text()
  rows = markdown_rows(readme)[1:]
  assert (
      len(rows) == 14
      and [row[6] for row in rows if not row[6].startswith('measured')] == ['not run (commands below)'] * 13
  )
  assert (
      'Written by `python experiments/reproduce_tables.py' in readme
      and '1 of 14 tables and figures hold our results (1 in whole).' in readme
  )
  assert sorted(p.name for p in (tmp_path / 'report').iterdir()) == [
      'README.md',
      'table1_imagenet.csv',
      'table1_imagenet.md',
  ]
  assert '| 50-layer | resnet50-B | 25.6M | 3.86 | 3.80 |' in done.stdout


def test_a_root_that_is_no_root_of_sweeps_names_the_one_to_give(trained, tmp_path):
  workdir, _ = trained  # A workdir, and its folder: neither is a root of sweeps.
  assert_refused(
      run('reproduce_tables', f'--root={workdir}'),
      f'is a workdir (it holds config.json), not the root of sweeps, which holds cifar10/ or imagenet2012/: name '
      f'--root={os.path.dirname(os.path.dirname(workdir))}',
  )
  parent = os.path.dirname(workdir)
  assert_refused(run('reproduce_tables', f'--root={parent}'), 'holds runs itself (w): the root of sweeps holds them')
  assert not os.path.exists(os.path.join(workdir, 'report')) and not os.path.exists(os.path.join(parent, 'report'))


def test_a_report_folder_that_cannot_be_written_is_one_line(tmp_path):
  (tmp_path / 'report').mkdir()
  with read_only(tmp_path / 'report'):
    done = run('reproduce_tables', f'--root={tmp_path}')  # The default --out, ROOT/report.
  assert_refused(done, f'--out={tmp_path / "report"} cannot be written')


def test_a_report_file_that_cannot_be_written_is_one_line(tmp_path):
  assert run('reproduce_tables', f'--root={tmp_path}').returncode == 0
  table = tmp_path / 'report' / 'table1_imagenet.md'
  with read_only(table):
    done = run('reproduce_tables', f'--root={tmp_path}')
  assert done.returncode == 1 and 'Traceback' not in done.stderr
  assert done.stderr.strip().splitlines()[-1].startswith(f'error: {table} cannot be written (')
