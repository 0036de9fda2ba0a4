"""configs/schema.py: every rule of a config in one place, overrides parsed as their field's type, and a saved
config.json brought to today's fields; the errors name their fixes as Settings each program names its own way."""

import json
import logging
import os

import pytest

import configs
from configs import schema
from configs.common import value_text
from resnet_jax import workdir
from resnet_jax.errors import ConfigError, Setting
from resnet_jax.runtime import config_flags


def test_named_configs_come_from_the_configs_package():
  assert configs.named('cifar10', 'resnet56').model.depth == 56
  assert os.path.isfile(configs.path('imagenet'))
  with pytest.raises(ConfigError, match='no config file of .mnist.'):
    configs.named('mnist', 'resnet8')
  with pytest.raises(ConfigError, match="Unknown network 'resnet7x'"):  # The config files' own error class.
    configs.named('cifar10', 'resnet7x')


def test_every_config_of_the_config_files_passes():
  for file, variant in (
      ('cifar10', 'resnet20'),
      ('cifar10', 'plain110'),
      ('cifar10', 'resnet56-C'),
      ('imagenet', 'resnet50'),
      ('imagenet', 'resnet152,modern'),
      ('imagenet', 'plain34'),
  ):
    schema.check(configs.named(file, variant), devices=8 if file == 'cifar10' else None)


def refused(config, devices=None) -> ConfigError:
  with pytest.raises(ConfigError) as raised:
    schema.check(config, devices)
  return raised.value


@pytest.mark.parametrize(
    'key,value,message',
    [
        ('model.shortcut', 'D', "model.shortcut must be one of A, B, C, none, not 'D': set model.shortcut."),
        ('model.bottleneck_stride', '2x2', "model.bottleneck_stride must be one of 1x1, 3x3, not '2x2'"),
        ('model.dtype', 'float16', "model.dtype must be one of float32, bfloat16, not 'float16'"),
        ('model.family', 'mnist', "model.family must be one of cifar, imagenet, not 'mnist'"),
        ('compute.replica_axis', 'pmap', "compute.replica_axis must be one of auto, vmap, map, not 'pmap'"),
        ('compute.block_loop', 'while', "compute.block_loop must be one of auto, scan, unroll, not 'while'"),
        ('compute.conv_gradients', 'cudnn', 'compute.conv_gradients must be one of auto, xla, standard_layout'),
        ('schedule.name', 'poly', "schedule.name must be one of step, cosine, not 'poly'"),
        ('schedule.warmup', 'exp', "schedule.warmup must be one of constant, linear, not 'exp'"),
        ('schedule.unit', 'hours', "schedule.unit must be one of steps, epochs, not 'hours'"),
        ('optimizer.name', 'adam', "optimizer.name must be one of sgd, not 'adam'"),
        ('dataset.source', 'ftp', "dataset.source must be one of download, folder, tfds, not 'ftp'"),
        ('dataset.normalization', 'foo', "dataset.normalization must be one of per_pixel_mean, per_channel, not 'foo'"),
        ('num_replicas', 0, 'num_replicas must be a finite number at least 1, not 0: set num_replicas.'),
        ('optimizer.momentum', 1.5, 'optimizer.momentum must be a finite number at least 0 and at most 1, not 1.5'),
        (
            'optimizer.learning_rate',
            float('inf'),
            'optimizer.learning_rate must be a finite number at least 0, not inf',
        ),
        ('optimizer.label_smoothing', 1.0, 'optimizer.label_smoothing must be below 1'),
        ('dataset.crop_padding', 300, 'dataset.crop_padding must be below the image size, 32'),
        (
            'dataset.image_size',
            64,
            'dataset.image_size is 32 for CIFAR-10, whose images are 32x32, not 64: set dataset.image_size=32.',
        ),
        ('schedule.boundaries', (20, 10), 'schedule.boundaries must be increasing positive numbers, not (20, 10)'),
    ],
)
def test_each_rule_is_refused_naming_its_setting(key, value, message):
  config = configs.named('cifar10', 'resnet20')
  node, field = schema.node_and_field(config, key)
  node[field] = value
  assert str(refused(config)).startswith(message)


def test_imagenet_rules():
  config = configs.named('imagenet', 'resnet50')
  config.dataset.source = 'download'  # CIFAR-10's alone.
  assert "dataset.source must be one of folder, tfds, not 'download'" in str(refused(config))
  config = configs.named('imagenet', 'resnet50')
  config.dataset.scale_range = (200, 480)  # Below the crop of 224.
  assert 'dataset.scale_range is (shortest, longest) shorter side' in str(refused(config))
  config = configs.named('imagenet', 'resnet50')
  config.eval.scales = (256, 224)
  assert 'eval.scales must be increasing positive numbers' in str(refused(config))


def test_batches_split_over_the_devices():
  config = configs.named('cifar10', 'resnet20')
  config.batch_size = 12
  error = refused(config, devices=8)
  assert str(error) == 'The global batch_size 12 does not split over 8 devices: set batch_size to a multiple of 8.'
  assert error.parts[1] == Setting('batch_size')
  config.batch_size, config.model.bn_group_size = 128, 3
  assert str(refused(config, devices=8)) == (
      'model.bn_group_size=3 does not divide the 16 images per device: set batch_size=24 (3 per device on 8), '
      'model.bn_group_size to a divisor of 16, or to 0 for statistics over the whole batch.'
  )


def test_overrides_parse_as_the_fields_type():
  config = configs.named('cifar10', 'resnet20')
  schema.apply_overrides(
      config,
      [
          'batch_size=64',
          'schedule.boundaries=(1, 2)',
          'dataset.val_split=True',
          'optimizer.learning_rate=0.05',
          'dataset.dir=/data',
          'schedule.boundaries=5',
      ],
  )
  assert (config.batch_size, config.dataset.val_split, config.dataset.dir) == (64, True, '/data')
  assert config.optimizer.learning_rate == 0.05 and config.schedule.boundaries == (5,)
  with pytest.raises(ConfigError, match=r"^The config has no field 'model.colour'\.$"):
    schema.apply_overrides(config, ['model.colour=3'])
  with pytest.raises(ConfigError, match=r"no field 'model.width'\. Did you mean model.width_multiplier\?"):
    schema.apply_overrides(config, ['model.width=3'])  # A field it begins.
  with pytest.raises(ConfigError, match=r"no field 'model.widht'\. Did you mean model.width_multiplier\?"):
    schema.apply_overrides(config, ['model.widht=3'])  # A near spelling of a field's beginning.
  with pytest.raises(ConfigError, match=r'^model is a section of the config, not a field: set its fields, e.g. model'):
    schema.apply_overrides(config, ['model=5'])
  with pytest.raises(ConfigError, match=r"no field 'batchsize'\. Did you mean batch_size\?"):
    schema.apply_overrides(config, ['batchsize=3'])
  with pytest.raises(ConfigError, match=r"no field 'model.learning_rate'\. Did you mean optimizer.learning_rate\?"):
    schema.apply_overrides(config, ['model.learning_rate=3'])
  with pytest.raises(ConfigError, match=r"no section 'eval' \(it has compute, dataset, model, optimizer, schedule\)"):
    schema.apply_overrides(config, ['eval.protocol=ten_crop'])  # ImageNet's: CIFAR-10 has no eval section.
  with pytest.raises(
      ConfigError, match=r'^batch_size=big is not an integer: set batch_size to one, e.g. batch_size=64\.$'
  ):
    schema.apply_overrides(config, ['batch_size=big'])
  with pytest.raises(ConfigError, match='is not a list'):
    schema.apply_overrides(config, ['schedule.boundaries=abc'])
  with pytest.raises(ConfigError, match='KEY=VALUE'):
    schema.apply_overrides(config, ['batch_size'])


def write_config_json(folder, **changes):
  config = json.loads(configs.named('cifar10', 'resnet20').to_json())
  for key in changes.pop('drop', ()):
    parent, _, field = key.rpartition('.')
    del (config[parent] if parent else config)[field]
  config.update(changes)
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, 'config.json'), 'w') as f:
    json.dump(config, f)


def test_an_older_config_json_reads_with_todays_fields(tmp_path, caplog):
  """A field it lacks at its config file's default (said once, in one line); fields that moved in their place;
  steps_per_epoch as the dataset.train_size of as many steps per epoch."""
  old = json.loads(configs.named('cifar10', 'resnet20').to_json())
  old.pop('num_replicas')
  del old['schedule']['warmup_min_depth']
  old['replica_axis'] = old['compute'].pop('replica_axis')
  old['model'].update(block_loop='unroll', conv_gradients=old['compute'].pop('conv_gradients'))
  del old['compute']['block_loop']
  del old['dataset']['train_size']
  old['steps_per_epoch'] = 390
  (tmp_path / 'config.json').write_text(json.dumps(old))
  with caplog.at_level(logging.WARNING):
    config = workdir.read_config(str(tmp_path))
  assert config['num_replicas'] == 1 and config['schedule']['warmup_min_depth'] == 110
  assert config['compute'] == {'replica_axis': 'auto', 'block_loop': 'unroll', 'conv_gradients': 'auto'}
  assert 'steps_per_epoch' not in config and config['dataset']['train_size'] == 390 * config['batch_size']
  [said] = [r.getMessage() for r in caplog.records if 'lacks' in r.getMessage()]
  assert said.endswith(
      'config.json lacks num_replicas, schedule.warmup_min_depth (older than those fields): read at their defaults.'
  )


def test_an_imagenet_run_of_before_the_decoder_choice_reads_and_resumes_as_decoded_by_pillow(tmp_path, caplog):
  old = json.loads(configs.named('imagenet', 'resnet18').to_json())
  del old['dataset']['decoder']
  (tmp_path / 'config.json').write_text(json.dumps(old))
  (tmp_path / 'metrics.jsonl').write_text('{"step": 1, "split": "train", "loss": 1.0}\n')
  with caplog.at_level(logging.WARNING):
    assert workdir.read_config(str(tmp_path))['dataset']['decoder'] == 'pil'
  assert [r.getMessage() for r in caplog.records][-1].endswith(
      'lacks dataset.decoder (older than those fields): read as dataset.decoder=pil, what its run had.'
  )
  resumed = configs.named('imagenet', 'resnet18')
  resumed.dataset.decoder = 'simplejpeg'  # A resumed run may change its decoder, and is told so (in its train.log).
  assert workdir.check_owner(str(tmp_path), resumed) == [
      f'{tmp_path} was trained with dataset.decoder=pil up to step 0; it resumes with simplejpeg: the same crops '
      'from here on, with slightly other pixels.'
  ]


def test_reading_a_workdir_may_set_only_where_the_data_is_and_how_to_evaluate(tmp_path):
  write_config_json(tmp_path)
  trained, read = workdir.read_configs(str(tmp_path), ['dataset.dir=/data/cifar', 'eval_batch_size=50'])
  assert read.dataset.dir == '/data/cifar' and read.eval_batch_size == 50 and trained.dataset.dir != '/data/cifar'
  with pytest.raises(ConfigError, match="optimizer.learning_rate is the trained run's own"):
    workdir.read_configs(str(tmp_path), ['optimizer.learning_rate=1.0'])
  with pytest.raises(
      ConfigError,
      match=r'eval.protocol is not a field of .*config.json; reading this workdir may '
      r'set only dataset.source, dataset.dir, dataset.cache_dir, eval_batch_size, bn_stats_batches.$',
  ):
    workdir.read_configs(str(tmp_path), ['eval.protocol=ten_crop'])  # ImageNet's: CIFAR-10 has no eval section.
  for override in ('dataset.dir', '=/data'):
    with pytest.raises(ConfigError, match='is not KEY=VALUE'):
      workdir.read_configs(str(tmp_path), [override])


def test_an_unreadable_or_missing_config_json_is_named(tmp_path):
  with pytest.raises(ConfigError, match='has no config.json'):
    workdir.read_config(str(tmp_path))
  (tmp_path / 'config.json').write_text('{"model": ')
  with pytest.raises(ConfigError, match='is not a readable config.json'):
    workdir.read_config(str(tmp_path))


def test_a_hand_edited_config_json_is_named(tmp_path):
  write_config_json(tmp_path, model={**configs.named('cifar10', 'resnet20').model.to_dict(), 'depth': 'eight'})
  with pytest.raises(
      ConfigError,
      match=r"config.json has model.depth='eight', not an integer as configs/cifar10.py "
      r'gives it \(e.g. 20\): restore it.$',
  ):
    workdir.read_config(str(tmp_path))
  write_config_json(tmp_path, schedule='step')
  with pytest.raises(ConfigError, match="schedule='step' where configs/cifar10.py has a section"):
    workdir.read_config(str(tmp_path))
  write_config_json(tmp_path, dataset={'name': 'mnist'})
  with pytest.raises(ConfigError, match="dataset.name='mnist', not one of cifar10, imagenet2012"):
    workdir.read_config(str(tmp_path))
  write_config_json(tmp_path, model={**configs.named('cifar10', 'resnet20').model.to_dict(), 'widht': 8})
  with pytest.raises(ConfigError, match='config.json has model.widht, which configs/cifar10.py has no field of'):
    workdir.read_config(str(tmp_path))
  # What ml_collections lets a field hold, and JSON's lists for tuples, read as saved.
  write_config_json(tmp_path, seed=None, total_steps=100)
  config = workdir.read_config(str(tmp_path))
  assert config['seed'] is None and config['schedule']['boundaries'] == [32000, 48000]


def test_paths_are_taken_from_where_the_command_runs_and_kept_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert config_flags.absolute_paths(
      ['dataset.dir=data/c.tar.gz', 'dataset.cache_dir=~/c', 'seed=3', 'dataset.dir=']
  ) == (
      f'dataset.dir={tmp_path}/data/c.tar.gz',
      f'dataset.cache_dir={os.path.expanduser("~/c")}',
      'seed=3',
      'dataset.dir=',
  )
  config = configs.named('cifar10', 'resnet20')
  config.dataset.dir = 'data'
  assert config_flags.with_absolute_paths(config).dataset.dir == f'{tmp_path}/data'
  assert os.path.isabs(config.dataset.cache_dir)


@pytest.mark.parametrize(
    'value,text',
    [((32000, 48000), '(32000,48000)'), ((5,), '(5,)'), (0.1, '0.1'), (True, 'true'), ('folder', 'folder')],
)
def test_values_paste_into_a_shell(value, text):
  assert value_text(value) == text
