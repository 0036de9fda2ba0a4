"""runtime/cli.py: one `error:` line, whose fixes name the config keys and arguments the library's error names as
the program at hand sets them (its dialect), with no rewriting of the message's text."""

import pytest

from resnet_jax.errors import Argument, ConfigError, Setting
from resnet_jax.runtime import cli, study_cli, sweep_cli
from resnet_jax.workdir import READ_OVERRIDABLE

ERROR = ConfigError(
    'Missing: set ',
    Setting('dataset.dir'),
    ' to a folder, or ',
    Setting('schedule.boundaries', (1, 2)),
    ', say; ',
    Setting('seed', 3),
    '; or use another ',
    Argument('workdir'),
    '.',
)


@pytest.fixture
def dialect():
  yield cli.speak
  cli.speak(cli.config_dialect)


def test_the_library_names_keys_and_arguments_plainly():
  assert (
      str(ERROR) == 'Missing: set dataset.dir to a folder, or schedule.boundaries=(1,2), say; seed=3; or use '
      'another workdir.'
  )


def test_launch_names_them_as_its_flags(dialect):
  dialect(cli.config_dialect)
  assert cli.error_line(ERROR) == (
      'error: Missing: set --config.dataset.dir to a folder, or '
      '--config.schedule.boundaries=(1,2), say; --config.seed=3; or use another --workdir.'
  )


def test_the_sweeps_and_studies_name_them_as_theirs(dialect):
  dialect(cli.set_dialect)
  assert cli.error_line(ERROR) == (
      'error: Missing: set --set=dataset.dir=... to a folder, or '
      '--set=schedule.boundaries=(1,2), say; --set=seed=3; or use another --workdir.'
  )
  dialect(sweep_cli.dialect)  # What a sweep sets itself is named by the flag that does.
  assert cli.error_line(ConfigError('set ', Setting('model.depth'), ' or ', Argument('time', '1:00:00'))) == (
      'error: set --depths or --slurm_time=1:00:00'
  )


def test_reading_a_workdir_names_the_settings_it_may_not_change_as_a_new_trainings(dialect):
  dialect(study_cli.DIALECT)
  error = ConfigError('Bad: set ', Setting('batch_size', 8), ' or ', Setting('eval_batch_size', 8), '.')
  assert cli.error_line(error) == 'error: Bad: set batch_size=8 in a new training run or --set=eval_batch_size=8.'
  dialect(cli.reading(cli.config_dialect, READ_OVERRIDABLE))
  assert cli.error_line(error).endswith(' or --config.eval_batch_size=8.')


def test_an_error_is_one_line():
  assert cli.error_line('two\n  lines') == 'error: two lines'
