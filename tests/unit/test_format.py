"""One line width for the tree, set once in pyproject.toml ([tool.pyink]): the code is as pyink formats it, and no
line of it, docstrings and comments included (which a formatter leaves as written), runs past that width."""

import os
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def python_files() -> list[str]:
  listed = subprocess.run(
      ['git', 'ls-files', '-co', '--exclude-standard', '*.py'], cwd=ROOT, capture_output=True, text=True, check=True
  ).stdout.split()
  return [name for name in listed if os.path.isfile(os.path.join(ROOT, name))]


def test_the_code_is_as_the_formatter_writes_it():
  checked = subprocess.run(
      [sys.executable, '-m', 'pyink', '--check', '--quiet', *python_files()], cwd=ROOT, capture_output=True, text=True
  )
  assert checked.returncode == 0, f'run `pyink .` at the repository root:\n{checked.stderr}'


def test_no_line_runs_past_the_width():
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    width = tomllib.load(f)['tool']['pyink']['line-length']
  wide = []
  for name in python_files():
    with open(os.path.join(ROOT, name), encoding='utf-8') as f:
      wide += [f'{name}:{number}' for number, line in enumerate(f, 1) if len(line.rstrip('\n')) > width]
  assert not wide, f'lines wider than {width} columns: {wide}'
