"""Bad input and faults: one `error:` line and exit 2 before anything is written, data that names its bad file,
workdirs that reading never changes, one writer per workdir, signals that save. docs/bad_input.md lists the
cases and the tests that hold them."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from resnet_jax import checkpoint, writers
from resnet_jax.data import cifar10, dataset, folder
from resnet_jax.errors import ConfigError
from resnet_jax.train import NonFiniteLossError, train_and_evaluate
from tests.helpers import ROOT, launch, rows, tiny_config, write_image_folder

NET = '--config=configs/cifar10.py:resnet8'


def assert_refused(process_or_done, message, workdir=None):
  """Exit 2, no traceback, one `error:` line (the last) holding `message`, and the workdir not created."""
  if isinstance(process_or_done, subprocess.Popen):
    _, stderr = process_or_done.communicate(timeout=300)
  else:
    stderr = process_or_done.stderr
  assert process_or_done.returncode == 2, stderr[-3000:]
  errors = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert errors == [stderr.strip().splitlines()[-1]] and 'Traceback' not in stderr, stderr[-3000:]
  assert message in errors[0], errors[0]
  if workdir is not None:
    assert not os.path.exists(workdir)


@pytest.mark.parametrize('args,message', [
    (['--config=configs/cifar10.py:resnet20-D'], "unknown shortcut option 'D'"),
    (['--config=configs/cifar10.py:foonet20'], "Unknown network 'foonet20'"),
    (['--config=configs/cifar10.py:plain20-A'], 'plain nets have no shortcut'),
    (['--config=configs/nope.py:resnet20'], 'There is no config file configs/nope.py. A relative path is taken from '
                                            'the current directory'),
    (['--config=configs/common.py:x'], 'configs/common.py is not a config file (it defines no get_config)'),
    ([f'--config={os.path.join(ROOT, "tests", "data", "raising_config.py")}'],
     "raising_config.py, line 6: ValueError: invalid literal for int() with base 10: 'twenty'. Fix the config file "
     'there.'),
    ([NET, '--mode=config', '--config.num_replicas=0'], 'num_replicas must be a finite number at least 1'),
    ([NET, '--mode=summary', '--config.optimizer.momentum=2'], 'optimizer.momentum must be a finite number'),
    ([NET, '--config.batchsize=8'], 'Did you mean "batch_size"'),
    ([NET, '--config.model.widht=8'], "no field 'widht'"),
    ([NET, '--config.model.learning_rate=0.1'], 'Did you mean --config.optimizer.learning_rate?'),  # Wrong section.
    ([NET, '--config.eval.protocol=ten_crop'], "The config has no section 'eval'"),  # ImageNet's, not CIFAR's.
    ([NET, '--config.batch_size=abc'], "--config.batch_size=abc"),
    ([NET, '--config.batch_size=0'], 'batch_size must be a finite number at least 1, not 0'),
    ([NET, '--config.batch_size=-8'], 'batch_size must be a finite number at least 1, not -8'),
    ([NET, '--config.keep_checkpoints=0'], 'keep_checkpoints must be a finite number at least 1'),
    ([NET, '--config.keep_checkpoints=-1'], 'keep_checkpoints must be a finite number at least 1'),
    ([NET, '--config.optimizer.momentum=1.5'], 'optimizer.momentum must be a finite number at least 0 and at most 1'),
    ([NET, '--config.optimizer.learning_rate=-1'], 'optimizer.learning_rate must be a finite number at least 0'),
    ([NET, '--config.schedule.boundaries=abc'], 'schedule.boundaries must be increasing'),
    ([NET, '--config.schedule.boundaries=(20, 10)'], 'schedule.boundaries must be increasing'),
    ([NET, '--config.total_steps=0'], 'total_steps must be a finite number at least 1'),
    ([NET, '--config.num_replicas=0'], 'num_replicas must be a finite number at least 1'),
    ([NET, '--config.optimizer.learning_rate=inf'],
     'optimizer.learning_rate must be a finite number at least 0, not inf'),
    ([NET, '--config.schedule.decay=nan'], 'schedule.decay must be a finite number at least 0, not nan'),
    ([NET, '--config.num_replicas=1000000'], 'per device (the state of 1000000 nets'),  # Before anything is built.
    ([NET, '--config.batch_size=100000000'], 'at most --config.batch_size='),
    (['--mode=eval', '--config.dataset.dir=/tmp'], '--config.dataset.dir needs --config=FILE:NETWORK before it'),
    (['--config=configs/imagenet.py:resnet19', '--config.dataset.dir=/tmp', '--config.batch_size=24'],
     'ImageNet ResNets have depth [18, 34, 50, 101, 152, 200], not 19'),
    ([NET, '--config.optimizer.label_smoothing=1'], 'optimizer.label_smoothing must be below 1'),
    ([NET, '--config.dataset.crop_padding=300'], 'dataset.crop_padding must be below the image size, 32'),
    ([NET, '--config.dataset.train_size=0'], 'dataset.train_size must be a finite number at least 1, not 0'),
    ([NET, '--config.dataset.image_size=64'], 'dataset.image_size is 32 for CIFAR-10'),
    ([NET, '--config.dataset.normalization=foo'], "dataset.normalization must be one of per_pixel_mean, per_channel, "
                                                  "not 'foo'"),
    ([NET, '--mode=bogus'], 'value should be one of'),
    ([NET, 'stray'], 'Unexpected arguments: stray'),
    ([NET, '--nosuchflag'], "Unknown command line flag 'nosuchflag'"),
    ([], '--mode=train needs --config='),
])
def test_bad_flags_and_configs_end_in_one_error_line(args, message, image_folder, tmp_path):
  workdir = tmp_path / 'w'
  data = ['--config.dataset.source=folder', f'--config.dataset.dir={image_folder}'] if args[:1] == [NET] else []
  process = launch(f'--workdir={workdir}', *args[:1], *data, *args[1:])
  assert_refused(process, message, workdir)


def test_an_unwritable_workdir_is_refused_before_loading(image_folder, tmp_path):
  (tmp_path / 'file').write_text('')
  for workdir, message in ((tmp_path / 'file', 'is a file'), ('/proc/resnet_jax', 'cannot be written')):
    process = launch(NET, f'--workdir={workdir}', '--config.dataset.source=folder',
                     f'--config.dataset.dir={image_folder}')
    assert_refused(process, message)


def cifar_config(source, cache, **dataset):
  config = tiny_config(source, cache)
  config.dataset.update(dataset)
  return config.dataset


@pytest.fixture
def folder_copy(tmp_path):
  """A fresh folder of 10 classes, 2 train and 1 test 32x32 JPEGs each."""
  return write_image_folder(tmp_path / 'data', {'train': 2, 'test': 1}, [f'c{k}' for k in range(10)], [(32, 32)],
                            '.jpg', brightness=20)


def test_bad_images_are_named(folder_copy, tmp_path):
  bad = os.path.join(folder_copy, 'train', 'c3', '0.jpg')
  with open(bad, 'rb') as f:
    data = f.read()
  with open(bad, 'wb') as f:
    f.write(data[:len(data) // 3])  # Truncated.
  with pytest.raises(ConfigError, match=f'{bad} is not a readable image'):
    folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  os.remove(bad)
  from PIL import Image
  Image.new('RGB', (40, 32)).save(bad)
  with pytest.raises(ConfigError, match=f'{bad} is 40x32 pixels, but most train images are 32x32 .19 of the 20 in '
                                        'train.: every image must have the same size'):
    folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  os.remove(bad)
  first = os.path.join(folder_copy, 'test', 'c0', '0.jpg')  # The split's first image is the odd one.
  Image.new('RGB', (28, 28)).save(first)
  with pytest.raises(ConfigError, match=f'{first} is 28x28 pixels, but most train images are 32x32'):
    folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  small = write_image_folder(tmp_path / 'small', {'train': 1, 'test': 1}, [f'c{k}' for k in range(10)], [(28, 28)],
                             '.png', brightness=20)
  with pytest.raises(ConfigError, match=f'CIFAR-10 images are 32x32 pixels; {small} holds 28x28: resize them to '
                                        '32x32, or train on them with configs/imagenet.py'):
    cifar10.load(cifar_config(small, tmp_path / 'cache'))


def test_folder_entries_that_are_not_images(folder_copy, tmp_path, capsys):
  """A folder named like an image is passed over; a link to nothing is named; a linked class folder's images count
  in the cache key; a cache_dir that cannot be made decodes anyway, saying so."""
  os.makedirs(os.path.join(folder_copy, 'train', 'c1', 'sub.jpg'))
  cache = str(tmp_path / 'cache')
  before = folder.load(folder_copy, ('train', 'test'), cache)
  assert len(before['train_images']) == 20
  elsewhere = tmp_path / 'c5'
  shutil.move(os.path.join(folder_copy, 'train', 'c5'), elsewhere)
  os.symlink(elsewhere, os.path.join(folder_copy, 'train', 'c5'))
  from PIL import Image
  Image.new('RGB', (32, 32), (255, 0, 0)).save(elsewhere / '0.jpg')  # Through the link: decoded again.
  assert not np.array_equal(folder.load(folder_copy, ('train', 'test'), cache)['train_images'],
                            before['train_images'])
  (tmp_path / 'a_file').write_text('')
  uncached = folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'a_file' / 'cache'))
  assert len(uncached['train_images']) == 20 and 'Could not cache the decoded images' in capsys.readouterr().out
  broken = os.path.join(folder_copy, 'test', 'c2', '9.jpg')
  os.symlink(tmp_path / 'gone.jpg', broken)
  with pytest.raises(ConfigError, match=f'{broken} is a link to nothing'):
    folder.load(folder_copy, ('train', 'test'), cache)


def test_every_format_pil_reads_is_an_image_and_other_files_are_named(folder_copy, tmp_path, capsys):
  """GIF and TIFF count (was: skipped silently); a 16-bit grey PNG keeps its top 8 bits (was: clipped at 255);
  a file that is not an image is passed over, saying so."""
  import io
  from PIL import Image
  c1 = os.path.join(folder_copy, 'train', 'c1')
  Image.new('RGB', (32, 32), (0, 255, 0)).save(os.path.join(c1, 'green.gif'))
  Image.new('RGB', (32, 32), (0, 0, 255)).save(os.path.join(c1, 'blue.tif'))
  (tmp_path / 'notes').write_text('not an image')
  shutil.copy(tmp_path / 'notes', os.path.join(c1, 'notes.txt'))
  arrays = folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  assert len(arrays['train_images']) == 22
  assert f'{folder_copy}: skipped 1 files that are not images' in capsys.readouterr().out
  grey = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)
  encoded = io.BytesIO()
  Image.fromarray(grey).save(encoded, format='PNG')
  decoded = folder._decode_image(encoded.getvalue(), 'grey.png')
  assert decoded.shape == (32, 32, 3) and np.array_equal(decoded[..., 1], (grey >> 8).astype(np.uint8))
  floats = io.BytesIO()
  Image.fromarray(np.full((32, 32), 0.5, np.float32)).save(floats, format='TIFF')
  with pytest.raises(ConfigError, match='floats.tif holds 32-bit floats .PIL mode F., which have no one 8-bit'):
    folder._decode_image(floats.getvalue(), 'floats.tif')


def test_epochs_that_are_not_passes_over_the_data_are_named(capsys):
  config = tiny_config('/data/small', '/cache')
  config.schedule.unit = 'epochs'  # Of dataset.train_size=50,000 images: 2,500 passes over a folder of 20.
  dataset.check_training_images(config, 20)
  said = capsys.readouterr().out
  assert ('the schedule counts epochs of dataset.train_size=50,000 images; /data/small holds 20 training images, so '
          'its epochs are not passes over them (--config.dataset.train_size=20 makes them so)') in said
  config.dataset.train_size = 20
  dataset.check_training_images(config, 20)
  assert capsys.readouterr().out == ''
  with pytest.raises(ConfigError, match='batch_size 16 exceeds the 8 training images'):
    dataset.check_training_images(config, 8)


def test_a_validation_split_larger_than_the_training_set_is_refused(folder_copy, tmp_path):
  with pytest.raises(ConfigError, match='dataset.val_split holds out 5,000 training images, and .* has 20: drop'):
    cifar10.load(cifar_config(folder_copy, tmp_path / 'cache', val_split=True))


def test_a_garbage_archive_is_refused(tmp_path):
  archive = tmp_path / 'data.tar.gz'
  archive.write_bytes(os.urandom(5000))
  with pytest.raises(ConfigError, match='is not a readable image folder or .tar.gz'):
    folder.load(str(archive), ('train', 'test'), str(tmp_path / 'cache'))


def test_class_folders_must_match_num_classes(folder_copy, tmp_path):
  for split in ('train', 'test'):
    os.makedirs(os.path.join(folder_copy, split, 'extra'))
    shutil.copy(os.path.join(folder_copy, split, 'c0', '0.jpg'), os.path.join(folder_copy, split, 'extra', '0.jpg'))
  with pytest.raises(ConfigError, match='has 11 class folders .* but dataset.num_classes is 10: point dataset.dir at '
                                        'a folder of 10 classes, or, to train a new net on these, set '
                                        '--config.dataset.num_classes=11'):
    cifar10.load(cifar_config(folder_copy, tmp_path / 'cache'))


def test_a_class_folder_empty_in_both_splits_is_refused(folder_copy, tmp_path):
  for split in ('train', 'test'):
    for name in os.listdir(os.path.join(folder_copy, split, 'c4')):
      os.remove(os.path.join(folder_copy, split, 'c4', name))
  with pytest.raises(ConfigError, match=r"no images of class\(es\) \['c4'\]"):
    cifar10.load(cifar_config(folder_copy, tmp_path / 'cache'))


def test_the_decode_cache_follows_every_file(folder_copy, tmp_path):
  cache = str(tmp_path / 'cache')
  before = folder.load(folder_copy, ('train', 'test'), cache)
  from PIL import Image
  image = os.path.join(folder_copy, 'train', 'c2', '1.jpg')
  Image.new('RGB', (32, 32), (255, 0, 0)).save(image)  # Replaced in place: the top folder's mtime stays.
  after = folder.load(folder_copy, ('train', 'test'), cache)
  assert not np.array_equal(before['train_images'], after['train_images'])
  assert len(os.listdir(cache)) == 2


def test_metrics_rows_stay_valid_json(tmp_path):
  writer = writers.MetricsWriter(str(tmp_path), 0)
  writer.write(1, 'train', {'loss': float('nan'), 'top1_error': float('inf'), 'learning_rate': 0.1})
  writer.close()
  with open(tmp_path / 'metrics.jsonl') as f:
    row = json.loads(f.read(), parse_constant=lambda name: pytest.fail(f'{name} is not JSON'))
  assert row == {'step': 1, 'split': 'train', 'loss': None, 'top1_error': None, 'learning_rate': 0.1}


@pytest.fixture(scope='module')
def trained(image_folder, tmp_path_factory):
  """A ResNet-8 workdir trained for 2 steps, and the cache of its data."""
  tmp = tmp_path_factory.mktemp('trained')
  config = tiny_config(image_folder, tmp / 'cache', total_steps=2, eval_every_steps=2, checkpoint_every_steps=2)
  train_and_evaluate(config, str(tmp / 'w'))
  return str(tmp / 'w'), str(tmp / 'cache')


def snapshot(workdir):
  """Every file under workdir (but metrics.jsonl, which evaluations append to) with its bytes."""
  found = {}
  for root, _, names in os.walk(workdir):
    for name in names:
      if name != 'metrics.jsonl':
        with open(os.path.join(root, name), 'rb') as f:
          found[os.path.relpath(os.path.join(root, name), workdir)] = f.read()
  return found


@pytest.mark.slow
def test_eval_of_a_read_only_workdir_prints_the_result_and_records_nothing(trained, tmp_path):
  workdir, _ = trained
  copy = tmp_path / 'copy'
  shutil.copytree(workdir, copy)
  before = (copy / 'metrics.jsonl').read_text()
  # A read-only bind mount: root, as in CI, writes through file permissions.
  if subprocess.run(['mount', '--bind', str(copy), str(copy)], capture_output=True).returncode:
    pytest.skip('a read-only bind mount needs root')
  try:
    subprocess.run(['mount', '-o', 'remount,ro,bind', str(copy)], check=True)
    done = launch('--mode=eval', f'--workdir={copy}', '--alsologtostderr')
    stdout, stderr = done.communicate(timeout=300)
  finally:
    subprocess.run(['umount', str(copy)], check=True)
  assert done.returncode == 0, stderr[-3000:]
  assert json.loads(stdout.splitlines()[-1])['test']['top1_error'] >= 0
  assert 'cannot be written' in stderr and (copy / 'metrics.jsonl').read_text() == before


@pytest.mark.slow
def test_eval_reads_the_workdirs_config_and_changes_nothing_else(trained, image_folder, tmp_path):
  workdir, cache = trained
  before = snapshot(workdir)
  done = launch('--mode=eval', f'--workdir={workdir}')  # No --config: config.json says it all.
  stdout, stderr = done.communicate(timeout=300)
  assert done.returncode == 0, stderr[-3000:]
  assert json.loads(stdout.splitlines()[-1])['test']['top1_error'] >= 0
  assert snapshot(workdir) == before
  evaluated = rows(workdir)[-1]
  assert evaluated['split'] == 'test' and evaluated['mode'] == 'eval'  # Marked apart from training's own row.
  assert 'mode' not in rows(workdir)[-2]
  changes_the_net = launch('--mode=eval', f'--workdir={workdir}', NET, '--config.total_steps=64000')
  assert_refused(changes_the_net, 'total_steps is the trained run\'s own')
  other_net = launch('--mode=eval', f'--workdir={workdir}', '--config=configs/cifar10.py:resnet20')
  assert_refused(other_net, 'was trained as resnet8-A, not resnet20-A')
  assert snapshot(workdir) == before
  other_data = tmp_path / 'other_data'
  shutil.copytree(image_folder, other_data)
  done = launch('--mode=eval', f'--workdir={workdir}', NET, f'--config.dataset.dir={other_data}')
  stdout, stderr = done.communicate(timeout=300)
  assert done.returncode == 0, stderr[-3000:]
  assert rows(workdir)[-1]['dataset_dir'] == str(other_data) and 'dataset_dir' not in rows(workdir)[-2]


def test_reading_a_workdir_without_checkpoints_is_refused(trained, tmp_path):
  workdir, _ = trained
  empty = tmp_path / 'empty'
  os.makedirs(empty / 'checkpoints')
  with open(os.path.join(workdir, 'config.json')) as f:
    (empty / 'config.json').write_text(f.read())
  assert_refused(launch('--mode=eval', f'--workdir={empty}'), 'holds no checkpoints')
  deletion = subprocess.run([sys.executable, 'experiments/layer_deletion.py', f'--workdirs={empty}'], cwd=ROOT,
                            text=True, capture_output=True, timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(deletion, 'holds no checkpoints')


def test_a_study_names_its_fixes_as_it_takes_them(trained, tmp_path):
  workdir, _ = trained
  moved = tmp_path / 'moved'
  shutil.copytree(workdir, moved)
  config = json.loads((moved / 'config.json').read_text())
  config['dataset']['dir'] = str(tmp_path / 'gone')  # The data moved away.
  (moved / 'config.json').write_text(json.dumps(config))
  study = lambda *flags: subprocess.run([sys.executable, 'experiments/layer_deletion.py', f'--workdirs={moved}',
                                         *flags], cwd=ROOT, text=True, capture_output=True, timeout=300,
                                        env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(study(), 'set --set=dataset.dir=... to an image folder')
  assert_refused(study('--set=batch_size'), "Override 'batch_size' is not KEY=VALUE")
  assert_refused(study('--config.dataset.dir=x'), 'not with --config flags: use --set=dataset.dir=VALUE')
  config['eval_batch_size'] = 0  # Edited by hand.
  (moved / 'config.json').write_text(json.dumps(config))
  assert_refused(study(), "eval_batch_size must be a finite number at least 1, not 0: set --set=eval_batch_size=...")
  config['batch_size'] = 'eight'
  (moved / 'config.json').write_text(json.dumps(config))
  assert_refused(study(), "config.json has batch_size='eight', not an integer")
  assert_refused(launch('--mode=eval', f'--workdir={moved}'), "config.json has batch_size='eight', not an integer")
  tables = subprocess.run([sys.executable, 'experiments/reproduce_tables.py', f'--root={tmp_path}', '--jpeg_offset',
                           '--exact846=/nope.npz'], cwd=ROOT, text=True, capture_output=True, timeout=300,
                          env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(tables, '--exact846=/nope.npz does not exist: give the path of cifar10-test-exact846.npz')


@pytest.mark.slow
def test_another_networks_checkpoints_are_refused_not_moved(trained, image_folder, tmp_path):
  workdir, cache = trained
  other = tmp_path / 'other'
  os.makedirs(other)
  subprocess.run(['cp', '-r', os.path.join(workdir, 'checkpoints'), str(other)], check=True)  # No config.json.
  config = tiny_config(image_folder, cache)
  config.model.depth = 14
  with pytest.raises(ConfigError, match='holds arrays of other shapes than the network of this config'):
    train_and_evaluate(config, str(other))
  assert sorted(os.listdir(other / 'checkpoints')) == sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  assert not (other / 'config.json').exists() and not (other / 'metrics.jsonl').exists()  # Neither written.


def test_a_resumed_run_keeps_the_settings_it_was_trained_with(trained, image_folder, tmp_path):
  """Resuming may change how long a run goes and how often it logs and saves; not what it trains (issue 22)."""
  workdir, cache = trained
  copy = tmp_path / 'copy'
  shutil.copytree(workdir, copy)
  before = snapshot(copy)
  other_rate = tiny_config(image_folder, cache, total_steps=4, optimizer={'learning_rate': 0.05})
  with pytest.raises(ConfigError, match=r'was trained with optimizer.learning_rate=0.1, not 0.05: resume it with '
                                        r'--config.optimizer.learning_rate=0.1, or train into another --workdir'):
    train_and_evaluate(other_rate, str(copy))
  with pytest.raises(ConfigError, match=r'trained with batch_size=16, not 8 \(and seed\)'):
    train_and_evaluate(tiny_config(image_folder, cache, total_steps=4, batch_size=8, seed=3), str(copy))
  with pytest.raises(ConfigError, match=r'is at step 2, past --config.total_steps=1: give --config.total_steps=2 or '
                                        r'more'):
    train_and_evaluate(tiny_config(image_folder, cache, total_steps=1), str(copy))
  zero_init = tiny_config(image_folder, cache, total_steps=4)
  zero_init.model.zero_init_residual = True  # The same name, resnet8-A: the field is named.
  with pytest.raises(ConfigError, match='trained with model.zero_init_residual=false, not true: resume it with '
                                        '--config.model.zero_init_residual=false'):
    train_and_evaluate(zero_init, str(copy))
  boundaries = tiny_config(image_folder, cache, total_steps=4, schedule={'boundaries': (2, 3)})
  with pytest.raises(ConfigError, match=r'--config.schedule.boundaries=\(32000,48000\), or'):  # Pastes as printed.
    train_and_evaluate(boundaries, str(copy))
  cosine_run = tmp_path / 'cosine'
  shutil.copytree(copy, cosine_run)
  with open(cosine_run / 'config.json') as f:
    saved = json.load(f)
  saved['schedule']['name'] = 'cosine'  # As if trained so: a cosine over 2 steps is not one over 4.
  (cosine_run / 'config.json').write_text(json.dumps(saved))
  with pytest.raises(ConfigError, match='trained with total_steps=2, not 4: resume it with --config.total_steps=2'):
    train_and_evaluate(tiny_config(image_folder, cache, total_steps=4, schedule={'name': 'cosine'}), str(cosine_run))
  assert snapshot(copy) == before
  # Rows without checkpoints (a run stopped before its first save) belong to their net as much.
  rows_only = tmp_path / 'rows_only'
  os.makedirs(rows_only)
  for name in ('config.json', 'metrics.jsonl'):
    shutil.copy(copy / name, rows_only / name)
  deeper = tiny_config(image_folder, cache)
  deeper.model.depth = 14
  with pytest.raises(ConfigError, match='holds metrics of resnet8-A, not of resnet14-A'):
    train_and_evaluate(deeper, str(rows_only))


def test_moving_aside_twice_keeps_both(tmp_path, image_folder):
  config = tiny_config(image_folder, tmp_path / 'cache')
  checkpoints = checkpoint.Checkpoints(str(tmp_path / 'w'), config, keep=3)
  for n in range(2):
    os.makedirs(tmp_path / 'w' / 'checkpoints' / '7')
    checkpoints._move_aside(7)
  checkpoints.close()
  assert sorted(n for n in os.listdir(tmp_path / 'w' / 'checkpoints') if 'unreadable' in n) == [
      '7.unreadable', '7.unreadable.1']


def test_one_training_process_per_workdir(tmp_path, image_folder):
  config = tiny_config(image_folder, tmp_path / 'cache')
  first = checkpoint.Checkpoints(str(tmp_path / 'w'), config, keep=3)
  with pytest.raises(ConfigError, match=f'is being trained by process {os.getpid()} on '):
    checkpoint.Checkpoints(str(tmp_path / 'w'), config, keep=3)
  first.close()
  checkpoint.Checkpoints(str(tmp_path / 'w'), config, keep=3).close()  # Released with the first.


def test_a_killed_trainers_lock_does_not_block(tmp_path, image_folder):
  os.makedirs(tmp_path / 'w')
  holder = subprocess.Popen([sys.executable, '-c', 'import fcntl, sys, time; f = open(sys.argv[1], "a+"); '
                             'fcntl.flock(f, fcntl.LOCK_EX); f.write("process 1 on elsewhere"); f.flush(); '
                             'print("locked", flush=True); time.sleep(600)', str(tmp_path / 'w' / '.lock')],
                            stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'locked'
  config = tiny_config(image_folder, tmp_path / 'cache')
  with pytest.raises(ConfigError, match='is being trained by process 1 on elsewhere'):
    checkpoint.Checkpoints(str(tmp_path / 'w'), config, keep=3)
  holder.kill()
  holder.wait()
  checkpoint.Checkpoints(str(tmp_path / 'w'), config, keep=3).close()  # The kernel released the dead one's lock.


@pytest.mark.slow
@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_and_the_resumed_run_matches_an_unstopped_one(signum, image_folder, tmp_path):
  args = [NET, '--config.dataset.source=folder', f'--config.dataset.dir={image_folder}',
          f'--config.dataset.cache_dir={tmp_path / "cache"}', '--config.batch_size=16', '--config.total_steps=40',
          '--config.log_every_steps=1', '--config.eval_every_steps=20', '--config.checkpoint_every_steps=1000']
  stopped = tmp_path / 'stopped'
  process = launch(*args, f'--workdir={stopped}')
  metrics, deadline = stopped / 'metrics.jsonl', time.time() + 300
  while not (metrics.exists() and metrics.read_text().count('\n') >= 3) and time.time() < deadline:
    time.sleep(0.2)
  process.send_signal(signum)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0 and 'Traceback' not in stderr, stderr[-3000:]
  saved = checkpoint.step_dirs(str(stopped))
  assert len(saved) == 1 and saved[0] < 40 and 'Stopped by a signal at step' in stdout
  resumed = launch(*args, f'--workdir={stopped}')
  assert resumed.communicate(timeout=300)[0] and resumed.returncode == 0
  whole = launch(*args, f'--workdir={tmp_path / "whole"}')
  assert whole.communicate(timeout=300)[0] and whole.returncode == 0
  assert rows(stopped) == rows(tmp_path / 'whole')


@pytest.mark.slow
def test_sigterm_during_the_first_compile_saves_after_the_first_step(image_folder, tmp_path):
  process = launch(NET, '--config.dataset.source=folder', f'--config.dataset.dir={image_folder}',
                   f'--config.dataset.cache_dir={tmp_path / "cache"}', '--config.batch_size=16',
                   '--config.total_steps=40', f'--workdir={tmp_path / "w"}')
  for line in process.stdout:  # Printed once the run is built, just before the step is compiled.
    if ': starting from step 0 of 40' in line:
      break
  process.send_signal(signal.SIGTERM)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0 and 'Traceback' not in stderr, stderr[-3000:]
  assert 'Stopped by a signal at step 1, checkpoint saved' in stdout
  assert checkpoint.step_dirs(str(tmp_path / 'w')) == [1]


@pytest.mark.slow
def test_sweep_flags_are_checked_before_any_run(tmp_path):
  for script, args, message in (
      ('depth_ablation.py', ['--launcher=print', '--depths=abc'], 'one or more distinct integers of at least 1'),
      ('depth_ablation.py', ['--launcher=print', '--depths=20,20'], 'distinct integers'),
      ('depth_ablation.py', ['--launcher=print', '--depths='], '--depths takes one or more'),
      ('gpu_window.py', ['--dry_run', '--depths=20,32,20'], 'distinct integers'),
      ('reproduce_tables.py', [f'--root={__file__}'], 'is a file, not a directory'),
      ('depth_ablation.py', ['--launcher=print', '--depths=21'], 'depth 6n+2'),
      ('depth_ablation.py', ['--launcher=print', '--dataset=imagenet', '--depths=20'],
       '--depths=20: ImageNet ResNets have depth [18, 34, 50, 101, 152, 200], not 20: give --depths of such numbers'),
      ('shortcut_ablation.py', ['--launcher=print', '--depths=18'], '--depths=18: CIFAR ResNets have depth 6n+2'),
      ('depth_ablation.py', ['--launcher=print', '--steps=-5'], '--steps=-5'),
      ('depth_ablation.py', ['--launcher=print', '--replicas=0'], '--replicas=0'),
      ('gpu_window.py', ['--dry_run', '--depths=21'], 'depth 6n+2'),
      ('gpu_window.py', ['--dry_run', '--benchmark_net=resnet50'], 'is not DATASET:VARIANT'),
      ('gpu_window.py', ['--dry_run', '--budget_seconds=0'], '--budget_seconds=0'),
      # What a sweep varies is its own (issue 22): --set would send every run into one mislabelled workdir.
      ('depth_ablation.py', ['--launcher=print', '--depths=20,32', '--set=model.depth=56'], 'use --depths'),
      ('shortcut_ablation.py', ['--launcher=print', '--set=model.shortcut=none'], 'sets model.shortcut itself'),
      ('depth_ablation.py', ['--launcher=print', '--replicas=2', '--set=num_replicas=3'], 'use --replicas'),
      ('gpu_window.py', ['--dry_run', '--set=num_replicas=3'], 'use --replicas'),
      ('gpu_window.py', ['--dry_run', '--budget_seconds=nan'], 'must be a finite number of seconds'),
      ('depth_ablation.py', ['--launcher=print', '--steps=8', '--set=total_steps=100'], '--steps=8 sets total_steps'),
      ('depth_ablation.py', ['--launcher=print', '--steps=8', '--set=schedule.boundaries=(2,4)'],
       '--steps=8 sets schedule.boundaries'),
      ('depth_ablation.py', ['--launcher=print', f'--out={__file__}'], 'is a file, not a directory'),
      ('reproduce_tables.py', [f'--out={__file__}'], 'is a file, not a directory'),
      ('gpu_window.py', ['--dry_run', f'--root={__file__}'], 'is a file, not a directory'),
      ('gpu_window.py', ['--dry_run', '--benchmark_dtype=float17'], 'value should be one of <bfloat16|float32>'),
      ('gpu_window.py', ['--dry_run', '--benchmark_net=cifar10:foonet20'], "Unknown network 'foonet20'"),
      ('depth_ablation.py', ['--launcher=print', '--steps=3'], '--steps=3 is too few for the schedule\'s 2 '
                                                               'learning-rate drops (they would fall at steps (2, 2)): '
                                                               'give --steps=4 or more.')):
    done = subprocess.run([sys.executable, os.path.join('experiments', script), f'--root={tmp_path}', *args],
                          cwd=ROOT, text=True, capture_output=True, timeout=120,
                          env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
    assert_refused(done, message)
    assert done.stdout == ''  # No command printed, no plan.


@pytest.mark.slow
def test_converter_refuses_what_is_not_a_state_dict(tmp_path):
  import torch
  text, noise, tensor, nan = tmp_path / 'a.txt', tmp_path / 'b.pth', tmp_path / 'c.pth', tmp_path / 'd.pth'
  text.write_text('hello')
  noise.write_bytes(os.urandom(4096))
  torch.save(torch.zeros(3), tensor)
  torch.save({'conv1.weight': torch.full((2, 2), float('nan'))}, nan)
  torch.save({'conv1.weight': torch.zeros((2, 2))}, tmp_path / 'e.pth')
  for path, extra, message in (
      (tmp_path / 'missing.pth', [], 'does not exist'), (text, [], 'is not a torch checkpoint'),
      (noise, [], 'is not a torch checkpoint'), (tensor, [], 'holds a Tensor, not a state_dict'),
      (nan, [], 'holds NaN or infinite values in 1 tensors (conv1.weight...)'),
      (tmp_path / 'e.pth', ['--config.num_replicas=2'], 'torchvision weights need --config.num_replicas=1')):
    done = subprocess.run([sys.executable, '-m', 'resnet_jax.tools.convert', f'--torchvision={path}',
                           '--config=configs/imagenet.py:resnet18,modern', *extra, f'--workdir={tmp_path / "w"}'],
                          cwd=ROOT, text=True, capture_output=True, timeout=120,
                          env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
    assert_refused(done, message, tmp_path / 'w')


@pytest.fixture
def small_disk(tmp_path):
  """A 1.5 MB tmpfs (room for two ResNet-8 checkpoints), where this process may mount one (as root, as in CI)."""
  disk = tmp_path / 'disk'
  disk.mkdir()
  if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1500k', 'tmpfs', str(disk)], capture_output=True).returncode:
    pytest.skip('mounting a tmpfs needs root')
  yield disk
  subprocess.run(['umount', str(disk)], check=True)


@pytest.mark.slow
def test_a_full_disk_ends_in_one_line_and_keeps_the_last_checkpoint(small_disk, image_folder, tmp_path):
  args = [NET, '--config.dataset.source=folder', f'--config.dataset.dir={image_folder}',
          f'--config.dataset.cache_dir={tmp_path / "cache"}', '--config.batch_size=16', '--config.total_steps=10',
          '--config.log_every_steps=2', '--config.eval_every_steps=100', '--config.checkpoint_every_steps=2']
  full = launch(*args, f'--workdir={small_disk / "w"}')
  _, stderr = full.communicate(timeout=300)
  saved = checkpoint.step_dirs(str(small_disk / 'w'))
  assert full.returncode == 1 and stderr.strip().splitlines() == [stderr.strip()], stderr[-3000:]
  assert stderr.startswith('error: Could not write a checkpoint') and f'checkpoint ({saved[-1]})' in stderr
  shutil.copytree(small_disk / 'w', tmp_path / 'w')  # Room again: the run resumes from what was kept.
  resumed = launch(*args, f'--workdir={tmp_path / "w"}')
  stdout, stderr = resumed.communicate(timeout=300)
  assert resumed.returncode == 0 and f'resuming at step {saved[-1]}' in stdout, stderr[-3000:]


@pytest.mark.slow
def test_layer_deletion_refuses_more_blocks_than_the_net_has(trained):
  workdir, _ = trained
  done = subprocess.run([sys.executable, 'experiments/layer_deletion.py', f'--workdirs={workdir}', '--ks=99',
                         f'--out={workdir}-report'], cwd=ROOT, text=True, capture_output=True, timeout=300,
                        env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(done, '--ks=99: resnet8-A has 1 block to delete at random, not 99', f'{workdir}-report')
  for script in ('layer_deletion.py', 'layer_responses.py'):  # One network twice: its rows would merge.
    done = subprocess.run([sys.executable, f'experiments/{script}', f'--workdirs={workdir},{workdir}/',
                           f'--out={workdir}-report'], cwd=ROOT, text=True, capture_output=True, timeout=300,
                          env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
    assert_refused(done, 'both of resnet8-A: the tables name nets by network', f'{workdir}-report')
  done = subprocess.run([sys.executable, 'experiments/layer_responses.py', '--workdirs='], cwd=ROOT, text=True,
                        capture_output=True, timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(done, '--workdirs names no workdir')


def test_converter_refuses_a_workdir_with_checkpoints(tmp_path):
  os.makedirs(tmp_path / 'w' / 'checkpoints' / '0')
  done = subprocess.run([sys.executable, '-m', 'resnet_jax.tools.convert', f'--torchvision={tmp_path / "any.pth"}',
                         '--config=configs/imagenet.py:resnet18,modern', f'--workdir={tmp_path / "w"}'], cwd=ROOT,
                        text=True, capture_output=True, timeout=120, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(done, 'already holds checkpoints: convert into a new --workdir')
  os.makedirs(tmp_path / 'started')  # A run stopped before its first checkpoint: its rows are its own.
  (tmp_path / 'started' / 'metrics.jsonl').write_text('{"step": 1, "split": "train"}\n')
  done = subprocess.run([sys.executable, '-m', 'resnet_jax.tools.convert', f'--torchvision={tmp_path / "any.pth"}',
                         '--config=configs/imagenet.py:resnet18,modern', f'--workdir={tmp_path / "started"}'],
                        cwd=ROOT, text=True, capture_output=True, timeout=120,
                        env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert_refused(done, 'already holds metrics: convert into a new --workdir')


@pytest.mark.slow
def test_a_non_finite_loss_before_any_checkpoint_says_so(image_folder, tmp_path):
  config = tiny_config(image_folder, tmp_path / 'cache', total_steps=40, checkpoint_every_steps=1000,
                       eval_every_steps=1000)
  config.optimizer.learning_rate = 1e12
  with pytest.raises(NonFiniteLossError, match='no checkpoint was saved before: lower the learning rate'):
    train_and_evaluate(config, str(tmp_path / 'w'))
  assert checkpoint.step_dirs(str(tmp_path / 'w')) == []
