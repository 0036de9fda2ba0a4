"""runtime/config_io.py: named configs, overrides, and a workdir's config.json read once, in today's form."""
import json
import os

import pytest

from resnet_jax.errors import ConfigError
from resnet_jax.runtime import config_io


def test_named_configs_come_from_the_configs_package():
  assert config_io.named_config('cifar10', 'resnet56').model.depth == 56
  assert os.path.isfile(config_io.config_file('imagenet'))
  with pytest.raises(ConfigError, match='no config file of .mnist.'):
    config_io.named_config('mnist', 'resnet8')
  with pytest.raises(ConfigError, match="Unknown network 'resnet7x'"):  # The config files' own error class.
    config_io.named_config('cifar10', 'resnet7x')


def write_config_json(workdir, **changes):
  config = json.loads(config_io.named_config('cifar10', 'resnet20').to_json())
  for key in changes.pop('drop', ()):
    parent, _, field = key.rpartition('.')
    del (config[parent] if parent else config)[field]
  config.update(changes)
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    json.dump(config, f)


def test_older_config_json_is_read_in_todays_form(tmp_path):
  write_config_json(tmp_path, drop=list(config_io.ADDED_FIELDS) + ['dataset.train_size'], steps_per_epoch=390)
  config = config_io.saved_config(str(tmp_path))
  for key, value in config_io.ADDED_FIELDS.items():
    parent, _, field = key.rpartition('.')
    assert (config[parent] if parent else config)[field] == value
  assert 'steps_per_epoch' not in config and config['dataset']['train_size'] == 390 * config['batch_size']


def test_reading_a_workdir_may_set_only_where_the_data_is_and_how_to_evaluate(tmp_path):
  write_config_json(tmp_path)
  trained, read = config_io.workdir_configs(str(tmp_path), ['dataset.dir=/data/cifar', 'eval_batch_size=50'])
  assert read.dataset.dir == '/data/cifar' and read.eval_batch_size == 50 and trained.dataset.dir != '/data/cifar'
  with pytest.raises(ConfigError, match="optimizer.learning_rate is the trained run's own"):
    config_io.workdir_config(str(tmp_path), ['optimizer.learning_rate=1.0'])


def test_an_unreadable_or_missing_config_json_is_named(tmp_path):
  with pytest.raises(ConfigError, match='has no config.json'):
    config_io.saved_config(str(tmp_path))
  (tmp_path / 'config.json').write_text('{"model": ')
  with pytest.raises(ConfigError, match='is not a readable config.json'):
    config_io.saved_config(str(tmp_path))


def test_a_hand_edited_config_json_of_the_wrong_types_is_named(tmp_path):
  write_config_json(tmp_path, model={**config_io.named_config('cifar10', 'resnet20').model.to_dict(), 'depth': 'eight'})
  with pytest.raises(ConfigError, match=r"config.json has model.depth='eight', not an integer as configs/cifar10.py "
                                        r"gives it \(e.g. 20\): restore it.$"):
    config_io.saved_config(str(tmp_path))
  write_config_json(tmp_path, schedule='step')
  with pytest.raises(ConfigError, match="schedule='step' where configs/cifar10.py has a section"):
    config_io.saved_config(str(tmp_path))
  write_config_json(tmp_path, dataset={'name': 'mnist'})
  with pytest.raises(ConfigError, match="dataset.name='mnist', not one of cifar10, imagenet2012"):
    config_io.saved_config(str(tmp_path))
  # What ml_collections lets a field hold, and JSON's lists for tuples, read as saved.
  write_config_json(tmp_path, seed=None, total_steps=100)
  config = config_io.saved_config(str(tmp_path))
  assert config['seed'] is None and config['schedule']['boundaries'] == [32000, 48000]
  config['optimizer']['learning_rate'] = 1  # An integer in a float field.
  config_io.check_types(config, 'config.json')


def test_what_a_read_may_set_is_what_the_workdirs_config_has(tmp_path):
  write_config_json(tmp_path)
  with pytest.raises(ConfigError, match=r'eval.protocol is not a field of .*config.json; reading this workdir may '
                                        r'set only dataset.source, dataset.dir, dataset.cache_dir, eval_batch_size.$'):
    config_io.workdir_configs(str(tmp_path), ['eval.protocol=ten_crop'])  # ImageNet's: CIFAR-10 has no eval section.
  for override in ('dataset.dir', '=/data'):
    with pytest.raises(ConfigError, match='is not KEY=VALUE'):
      config_io.workdir_configs(str(tmp_path), [override])


def test_paths_are_taken_from_where_the_command_runs_and_kept_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert config_io.absolute_paths(['dataset.dir=data/c.tar.gz', 'dataset.cache_dir=~/c', 'seed=3', 'dataset.dir=']) == (
      f'dataset.dir={tmp_path}/data/c.tar.gz', f'dataset.cache_dir={os.path.expanduser("~/c")}', 'seed=3',
      'dataset.dir=')
  config = config_io.named_config('cifar10', 'resnet20')
  config.dataset.dir = 'data'
  assert config_io.with_absolute_paths(config).dataset.dir == f'{tmp_path}/data'
  assert os.path.isabs(config.dataset.cache_dir)


def test_a_config_json_with_a_field_added_or_lost_is_named(tmp_path):
  model = config_io.named_config('cifar10', 'resnet20').model.to_dict()
  write_config_json(tmp_path, model={**model, 'widht': 8})
  with pytest.raises(ConfigError, match='config.json has model.widht, which configs/cifar10.py has no field of'):
    config_io.saved_config(str(tmp_path))
  write_config_json(tmp_path, drop=['optimizer.momentum'])
  with pytest.raises(ConfigError, match='config.json lacks optimizer.momentum, a field of configs/cifar10.py'):
    config_io.saved_config(str(tmp_path))


@pytest.mark.parametrize('value,text', [((32000, 48000), '(32000,48000)'), ((5,), '(5,)'), (0.1, '0.1'),
                                        (True, 'true'), ('folder', 'folder')])
def test_flag_values_paste_into_a_shell(value, text):
  assert config_io.flag_value(value) == text
