"""runtime/cli.py: one `error:` line, whose fixes name a config key as the program at hand sets it."""
import pytest

from resnet_jax.runtime import cli


@pytest.fixture
def setting():
  yield cli.set_keys_with
  cli.set_keys_with(cli.config_flag)


def error_line(capsys, message: str) -> str:
  with pytest.raises(SystemExit) as exit_:
    cli.fail(message)
  assert exit_.value.code == 2
  return capsys.readouterr().err


def test_fixes_name_keys_as_launch_sets_them_by_default(capsys):
  assert error_line(capsys, 'x must be at least 1:\n  set --config.batch_size=128.') == (
      'error: x must be at least 1: set --config.batch_size=128.\n')


def test_fixes_name_keys_as_the_sweeps_and_studies_set_them(setting, capsys):
  setting(cli.set_flag)
  assert error_line(capsys, 'Missing: set --config.dataset.dir to a folder, or --config.schedule.boundaries='
                            '"(1, 2)", say; --config.seed=3.') == (
      'error: Missing: set --set=dataset.dir=... to a folder, or --set=schedule.boundaries="(1, 2)", say; '
      '--set=seed=3.\n')


def test_reading_a_workdir_names_its_own_settings_as_fields_of_its_config_json(setting, capsys):
  setting(cli.reading_workdir(cli.set_flag))
  assert error_line(capsys, 'Bad: set --config.batch_size=8 or --config.eval_batch_size=8.') == (
      "error: Bad: set batch_size in the workdir's config.json (the trained run's own) or --set=eval_batch_size=8.\n")
