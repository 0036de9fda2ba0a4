"""Bad input to the programs, each run through its main function in this process: one `error:` line naming the fix in
the program's own flags, exit 2, before anything is written; workdirs that reading never changes; a resumed run
that keeps what it trained. docs/bad_input.md lists the cases and the tests that hold them."""

import json
import os
import shutil

import pytest

from tests.helpers import ROOT, assert_refused, rows, run, snapshot, tiny_data, write_image_folder

NET = '--config=configs/cifar10.py:resnet8'


@pytest.mark.parametrize(
    'args,message',
    [
        (['--config=configs/cifar10.py:resnet20-D'], "unknown shortcut option 'D'"),
        (['--config=configs/cifar10.py:foonet20'], "Unknown network 'foonet20'"),
        (['--config=configs/cifar10.py:plain20-A'], 'plain nets have no shortcut'),
        (
            ['--config=configs/nope.py:resnet20'],
            'There is no config file configs/nope.py. A relative path is taken from the current directory',
        ),
        (['--config=configs/common.py:x'], 'configs/common.py is not a config file (it defines no get_config)'),
        (['--config=README.md:resnet8'], 'README.md is not a config file (a Python file defining get_config): use'),
        ([NET, '--config.model=5'], 'model is a section of the config, not a field: set its fields, e.g. --config.'),
        ([NET, '--config.seed=4294967296'], 'seed must be a finite number at least 0 and at most 2147483647'),
        ([NET, '--config.seed=2147483647', '--config.num_replicas=2'], 'leaves no room for the seeds of 2 replicas'),
        ([NET, '--config.dataset.name=cifar100'], "dataset.name must be one of cifar10, imagenet2012, not 'cifar100'"),
        (
            [f'--config={os.path.join(ROOT, "tests", "data", "raising_config.py")}'],
            "raising_config.py, line 7: ValueError: invalid literal for int() with base 10: 'twenty'. "
            'Fix the config file there.',
        ),
        ([NET, '--mode=config', '--config.num_replicas=0'], 'num_replicas must be a finite number at least 1'),
        ([NET, '--mode=summary', '--config.optimizer.momentum=2'], 'optimizer.momentum must be a finite number'),
        ([NET, '--config.batchsize=8'], 'Did you mean --config.batch_size?'),
        (
            [NET, '--config.dataset.dir', '/d'],
            '--config.dataset.dir takes its value after "=": give --config.dataset.dir=/d.',
        ),
        ([NET, '--config.model.widht=8'], "no field 'model.widht'"),
        ([NET, '--config.model.learning_rate=0.1'], 'Did you mean --config.optimizer.learning_rate?'),  # Wrong section.
        ([NET, '--config.eval.protocol=ten_crop'], "The config has no section 'eval'"),  # ImageNet's, not CIFAR's.
        ([NET, '--config.batch_size=abc'], '--config.batch_size=abc'),
        ([NET, '--config.batch_size=0'], 'batch_size must be a finite number at least 1, not 0'),
        ([NET, '--config.batch_size=-8'], 'batch_size must be a finite number at least 1, not -8'),
        ([NET, '--config.keep_checkpoints=0'], 'keep_checkpoints must be a finite number at least 1'),
        ([NET, '--config.keep_checkpoints=-1'], 'keep_checkpoints must be a finite number at least 1'),
        (
            [NET, '--config.optimizer.momentum=1.5'],
            'optimizer.momentum must be a finite number at least 0 and at most 1',
        ),
        ([NET, '--config.optimizer.learning_rate=-1'], 'optimizer.learning_rate must be a finite number at least 0'),
        (
            [NET, '--config.schedule.boundaries=abc'],
            '--config.schedule.boundaries=abc is not a list: set '
            '--config.schedule.boundaries to one, e.g. '
            '--config.schedule.boundaries=(32000,48000).',
        ),
        ([NET, '--config.schedule.boundaries=(20, 10)'], 'schedule.boundaries must be increasing'),
        ([NET, '--config.total_steps=0'], 'total_steps must be a finite number at least 1'),
        ([NET, '--config.num_replicas=0'], 'num_replicas must be a finite number at least 1'),
        (
            [NET, '--config.optimizer.learning_rate=inf'],
            'optimizer.learning_rate must be a finite number at least 0, not inf',
        ),
        ([NET, '--config.schedule.decay=nan'], 'schedule.decay must be a finite number at least 0, not nan'),
        ([NET, '--config.num_replicas=1000000'], 'per device (the state of 1000000 nets'),  # Before anything is built.
        ([NET, '--config.batch_size=100000000'], 'at most --config.batch_size='),
        (['--mode=summary', '--config.dataset.dir=/tmp'], '--config.dataset.dir needs --config=FILE:NETWORK before it'),
        (
            ['--config=configs/imagenet.py:resnet19', '--config.dataset.dir=/tmp', '--config.batch_size=24'],
            'ImageNet ResNets have depth [18, 34, 50, 101, 152, 200], not 19',
        ),
        ([NET, '--config.optimizer.label_smoothing=1'], 'optimizer.label_smoothing must be below 1'),
        ([NET, '--config.dataset.crop_padding=300'], 'dataset.crop_padding must be below the image size, 32'),
        ([NET, '--config.dataset.train_size=0'], 'dataset.train_size must be a finite number at least 1, not 0'),
        ([NET, '--config.dataset.image_size=64'], 'dataset.image_size is 32 for CIFAR-10'),
        (
            [NET, '--config.dataset.normalization=foo'],
            "dataset.normalization must be one of per_pixel_mean, per_channel, not 'foo'",
        ),
        (
            [NET, '--config.batch_size=12'],
            'The global batch_size 12 does not split over 8 devices: set --config.batch_size to a multiple of 8.',
        ),
        (
            [NET, '--config.dataset.dir=/nonexistent'],
            'Dataset /nonexistent does not exist: set --config.dataset.dir to',
        ),
        ([NET, '--config.model.depth=21'], 'CIFAR ResNets have depth 6n+2'),
        (
            [NET, '--config.model.shortcut=D'],
            "model.shortcut must be one of A, B, C, none, not 'D': set --config.model.shortcut.",
        ),
        (
            [NET, '--config.model.bn_group_size=3'],
            'model.bn_group_size=3 does not divide the 16 images per device: set '
            '--config.batch_size=24 (3 per device on 8)',
        ),
        ([NET, '--mode=bogus'], 'value should be one of'),
        ([NET, 'stray'], 'Unexpected arguments: stray'),
        ([NET, '--nosuchflag'], "Unknown command line flag 'nosuchflag'"),
        ([], '--mode=train needs --config='),
    ],
)
def test_bad_flags_and_configs_end_in_one_error_line(args, message, image_folder, tmp_path):
  workdir = tmp_path / 'w'
  data = ['--config.dataset.source=folder', f'--config.dataset.dir={image_folder}'] if args[:1] == [NET] else []
  assert_refused(run('launch', f'--workdir={workdir}', *args[:1], *data, *args[1:]), message, workdir)


def test_an_unwritable_workdir_is_refused_before_loading(image_folder, tmp_path):
  (tmp_path / 'file').write_text('')
  for workdir, message in ((tmp_path / 'file', 'is a file'), ('/proc/resnet_jax', 'cannot be written')):
    assert_refused(
        run(
            'launch',
            NET,
            f'--workdir={workdir}',
            '--config.dataset.source=folder',
            f'--config.dataset.dir={image_folder}',
        ),
        message,
    )


def test_eval_reads_the_workdirs_config_and_changes_nothing_else(trained, image_folder, tmp_path):
  workdir, cache = trained
  before = snapshot(workdir)
  done = run('launch', '--mode=eval', f'--workdir={workdir}')  # No --config: config.json says it all.
  assert done.returncode == 0, done.stderr[-3000:]
  assert json.loads(done.stdout.splitlines()[-1])['test']['top1_error'] >= 0
  assert snapshot(workdir) == before
  evaluated = rows(workdir)[-1]
  assert evaluated['split'] == 'test' and evaluated['mode'] == 'eval'  # Marked apart from training's own row.
  assert 'mode' not in rows(workdir)[-2]
  changes_the_net = run('launch', '--mode=eval', f'--workdir={workdir}', NET, '--config.total_steps=64000')
  assert_refused(changes_the_net, "total_steps is the trained run's own")
  other_net = run('launch', '--mode=eval', f'--workdir={workdir}', '--config=configs/cifar10.py:resnet20')
  assert_refused(other_net, 'was trained as resnet8-A, not resnet20-A: drop --config')
  assert snapshot(workdir) == before
  other_data = tmp_path / 'other_data'
  shutil.copytree(image_folder, other_data)
  done = run('launch', '--mode=eval', f'--workdir={workdir}', f'--config.dataset.dir={other_data}')  # No --config.
  assert done.returncode == 0, done.stderr[-3000:]
  assert rows(workdir)[-1]['dataset_dir'] == str(other_data) and 'dataset_dir' not in rows(workdir)[-2]


def test_reading_a_workdir_without_checkpoints_is_refused(trained, tmp_path):
  workdir, _ = trained
  empty = tmp_path / 'empty'
  os.makedirs(empty / 'checkpoints')
  with open(os.path.join(workdir, 'config.json')) as f:
    (empty / 'config.json').write_text(f.read())
  assert_refused(run('launch', '--mode=eval', f'--workdir={empty}'), 'holds no checkpoints')
  assert_refused(run('layer_deletion', f'--workdirs={empty}'), 'holds no checkpoints')


def test_a_study_names_its_fixes_as_it_takes_them(trained, tmp_path):
  workdir, _ = trained
  moved = tmp_path / 'moved'
  shutil.copytree(workdir, moved)
  config = json.loads((moved / 'config.json').read_text())
  config['dataset']['dir'] = str(tmp_path / 'gone')  # The data moved away.
  (moved / 'config.json').write_text(json.dumps(config))
  study = lambda *flags: run('layer_deletion', f'--workdirs={moved}', *flags)
  assert_refused(study(), 'set --set=dataset.dir=... to an image folder')
  assert_refused(study('--set=batch_size'), "'batch_size' is not KEY=VALUE")
  assert_refused(
      study('--config.dataset.dir=x'), 'takes no --config flags: set dataset.dir with --set=dataset.dir=VALUE.'
  )
  config['eval_batch_size'] = 0  # Edited by hand.
  (moved / 'config.json').write_text(json.dumps(config))
  assert_refused(study(), 'eval_batch_size must be a finite number at least 1, not 0: set --set=eval_batch_size=...')
  config['batch_size'] = 'eight'
  (moved / 'config.json').write_text(json.dumps(config))
  assert_refused(study(), "config.json has batch_size='eight', not an integer")
  assert_refused(
      run('launch', '--mode=eval', f'--workdir={moved}'), "config.json has batch_size='eight', not an integer"
  )
  (tmp_path / 'root').mkdir()
  tables = run('reproduce_tables', f'--root={tmp_path / "root"}', '--jpeg_offset', '--exact846=/nope.npz')
  assert_refused(tables, '--exact846=/nope.npz does not exist: give the path of cifar10-test-exact846.npz')


def test_a_resumed_run_keeps_the_settings_it_was_trained_with(trained, image_folder, tmp_path):
  """Resuming may change how long a run goes and how often it logs and saves; not what it trains."""
  workdir, cache = trained
  copy = tmp_path / 'copy'
  shutil.copytree(workdir, copy)
  before = snapshot(copy)
  data = [
      *tiny_data(image_folder, cache),
      '--config.checkpoint_every_steps=2',
  ]
  resume = lambda *args, into=copy: run('launch', NET, *data, *args, f'--workdir={into}')
  assert_refused(
      resume('--config.total_steps=4', '--config.optimizer.learning_rate=0.05'),
      'was trained with optimizer.learning_rate=0.1, not 0.05: resume it with '
      '--config.optimizer.learning_rate=0.1, or train into another --workdir.',
  )
  assert_refused(
      resume('--config.total_steps=4', '--config.batch_size=8', '--config.seed=3'),
      'trained with batch_size=16, not 8 (and seed): resume it with --config.batch_size=16 --config.seed=0, or',
  )
  assert_refused(
      resume('--config.total_steps=1'),
      'is at step 2, past --config.total_steps=1: give --config.total_steps=2 or more',
  )
  assert_refused(
      resume('--config.total_steps=4', '--config.model.zero_init_residual=True'),  # resnet8-A still.
      'trained with model.zero_init_residual=false, not true: resume it with '
      '--config.model.zero_init_residual=false',
  )
  assert_refused(
      resume('--config.total_steps=4', '--config.schedule.boundaries=(2,3)'),
      '--config.schedule.boundaries=(32000,48000), or',
  )  # Pastes as printed.
  cosine_run = tmp_path / 'cosine'
  shutil.copytree(copy, cosine_run)
  with open(cosine_run / 'config.json') as f:
    saved = json.load(f)
  saved['schedule']['name'] = 'cosine'  # As if trained so: a cosine over 2 steps is not one over 4.
  (cosine_run / 'config.json').write_text(json.dumps(saved))
  assert_refused(
      resume('--config.total_steps=4', '--config.schedule.name=cosine', into=cosine_run),
      'trained with total_steps=2, not 4: resume it with --config.total_steps=2',
  )
  assert snapshot(copy) == before
  # Rows without checkpoints (a run stopped before its first save) belong to their net as much.
  rows_only = tmp_path / 'rows_only'
  os.makedirs(rows_only)
  for name in ('config.json', 'metrics.jsonl'):
    shutil.copy(copy / name, rows_only / name)
  assert_refused(resume('--config.model.depth=14', into=rows_only), 'holds metrics of resnet8-A, not of resnet14-A')


def test_sweep_flags_are_checked_before_any_run(tmp_path):
  for script, args, message in (
      ('depth_ablation.py', ['--launcher=print', '--depths=abc'], 'one or more distinct integers of at least 1'),
      ('depth_ablation.py', ['--launcher=print', '--depths=20,20'], 'distinct integers'),
      ('depth_ablation.py', ['--launcher=print', '--depths='], 'flag --depths=: takes one or more'),
      ('gpu_window.py', ['--dry_run', '--depths=20,32,20'], 'distinct integers'),
      ('reproduce_tables.py', [f'--root={__file__}'], 'is a file, not a directory'),
      ('depth_ablation.py', ['--launcher=print', '--depths=21'], 'depth 6n+2'),
      (
          'depth_ablation.py',
          ['--launcher=print', '--dataset=imagenet', '--depths=20'],
          '--depths=20: ImageNet ResNets have depth [18, 34, 50, 101, 152, 200], not 20: give --depths of such numbers',
      ),
      ('shortcut_ablation.py', ['--launcher=print', '--depths=18'], '--depths=18: CIFAR ResNets have depth 6n+2'),
      ('depth_ablation.py', ['--launcher=print', '--steps=-5'], '--steps=-5'),
      ('depth_ablation.py', ['--launcher=print', '--replicas=0'], '--replicas=0'),
      ('gpu_window.py', ['--dry_run', '--depths=21'], 'depth 6n+2'),
      ('gpu_window.py', ['--dry_run', '--benchmark_net=resnet50'], 'is not DATASET:VARIANT'),
      ('gpu_window.py', ['--dry_run', '--budget_seconds=0'], '--budget_seconds=0'),
      # What a sweep varies is its own: --set would send every run into one mislabelled workdir.
      ('depth_ablation.py', ['--launcher=print', '--depths=20,32', '--set=model.depth=56'], 'use --depths'),
      ('shortcut_ablation.py', ['--launcher=print', '--set=model.shortcut=none'], 'sets model.shortcut itself'),
      ('depth_ablation.py', ['--launcher=print', '--replicas=2', '--set=num_replicas=3'], 'use --replicas'),
      ('gpu_window.py', ['--dry_run', '--set=num_replicas=3'], 'use --replicas'),
      ('gpu_window.py', ['--dry_run', '--budget_seconds=nan'], 'must be a finite number of seconds'),
      ('depth_ablation.py', ['--launcher=print', '--steps=8', '--set=total_steps=100'], '--steps=8 sets total_steps'),
      (
          'depth_ablation.py',
          ['--launcher=print', '--steps=8', '--set=schedule.boundaries=(2,4)'],
          '--steps=8 sets schedule.boundaries',
      ),
      ('depth_ablation.py', ['--launcher=print', f'--out={__file__}'], 'is a file, not a directory'),
      ('reproduce_tables.py', [f'--out={__file__}'], 'is a file, not a directory'),
      ('gpu_window.py', ['--dry_run', f'--root={__file__}'], 'is a file, not a directory'),
      ('gpu_window.py', ['--dry_run', '--benchmark_dtype=float17'], 'value should be one of <bfloat16|float32>'),
      ('gpu_window.py', ['--dry_run', '--benchmark_net=cifar10:foonet20'], "Unknown network 'foonet20'"),
      # Flags the window does not read (it runs its own jobs, reports in the root).
      ('gpu_window.py', ['--dry_run', '--launcher=slurm'], "Unknown command line flag 'launcher'"),
      ('gpu_window.py', ['--dry_run', '--slurm_time=abc'], "Unknown command line flag 'slurm_time'"),
      ('gpu_window.py', ['--dry_run', '--out=x'], "Unknown command line flag 'out'"),
      ('depth_ablation.py', ['--launcher=local', '--python=/nope/python'], '--python=/nope/python is no interpreter'),
      ('layer_deletion.py', ['--workdirs=x', '--seed=-3'], 'flag --seed=-3: -3 is not'),
      # What every run would refuse at its start: with any device count, or on the nodes x GPUs a task asks for.
      ('depth_ablation.py', ['--launcher=print', '--set=model.bn_group_size=3'], 'model.bn_group_size=3 does not'),
      (
          'depth_ablation.py',
          ['--launcher=slurm', '--dataset=imagenet', '--set=dataset.dir=/d', '--nocheck_data', '--slurm_gpus=3'],
          'The global batch_size 256 does not split over 3 devices: set --set=batch_size',
      ),
      (
          'depth_ablation.py',
          ['--launcher=slurm', '--slurm_time=30-00:00:00', '--slurm_signal_seconds=100000'],
          '--slurm_signal_seconds=100000 is beyond what SLURM takes (0 to 65535 s)',
      ),
      ('depth_ablation.py', ['--launcher=print', '--root=~nosuchuser/paper'], '~nosuchuser names no user here'),
      (
          'depth_ablation.py',
          ['--launcher=print', '--steps=3'],
          "--steps=3 is too few for the schedule's 2 "
          'learning-rate drops (they would fall at steps (2, 2)): '
          'give --steps=4 or more.',
      ),
  ):
    done = run(script.removesuffix('.py'), f'--root={tmp_path}', *args)
    assert_refused(done, message)
    assert done.stdout == '' and os.listdir(tmp_path) == []  # No command printed, no plan, nothing written.
  assert_refused(run('depth_ablation', '--launcher=print', '--root='), '--root names no folder')


def test_a_path_flag_that_starts_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch):
  """'--root=~/paper' reaches the program unexpanded (the ~ does not start a word): it is taken as a shell would."""
  monkeypatch.setenv('HOME', str(tmp_path))
  done = run('depth_ablation', '--launcher=print', '--root=~/paper', '--depths=20', '--steps=20')
  assert done.returncode == 0 and f'--workdir={tmp_path}/paper/cifar10/resnet20-A' in done.stdout, done.stderr
  assert not os.path.exists(os.path.join(ROOT, '~'))
  os.mkdir(tmp_path / 'empty')
  done = run('depth_ablation', '--launcher=none', '--root=~/empty', '--depths=20')
  assert done.returncode == 0 and done.stdout == f'No runs of cifar10 under {tmp_path}/empty yet: nothing to report.\n'
  assert_refused(run('depth_ablation', '--launcher=none', '--root=~/typo'), f'--root={tmp_path}/typo does not exist')


def test_a_local_sweep_reads_its_data_before_any_run(tmp_path):
  """Data its runs would refuse refuses the sweep, in its own words, before any run starts or anything is written."""
  five = write_image_folder(tmp_path / 'five', {'train': 2, 'test': 1}, list('abcde'), [(32, 32)], '.png', 20)
  small = write_image_folder(tmp_path / 'small', {'train': 2, 'test': 1}, list('abcdefghij'), [(28, 28)], '.png', 20)
  root = tmp_path / 'root'
  for data, message in (
      (five, 'or, to train a new net on these, set --set=dataset.num_classes=5.'),
      (small, 'CIFAR-10 images are 32x32 pixels; '),
      (tmp_path / 'five' / 'train' / 'a' / '0.png', 'is not a readable image folder or .tar.gz'),
  ):
    done = run(
        'depth_ablation',
        '--depths=8',
        '--steps=4',
        f'--root={root}',
        '--set=dataset.source=folder',
        f'--set=dataset.dir={data}',
        f'--set=dataset.cache_dir={tmp_path / "cache"}',
    )
    assert_refused(done, message, root)


def test_converter_refuses_what_is_not_a_state_dict(tmp_path):
  import torch

  text, noise, tensor, nan = tmp_path / 'a.txt', tmp_path / 'b.pth', tmp_path / 'c.pth', tmp_path / 'd.pth'
  text.write_text('hello')
  noise.write_bytes(os.urandom(4096))
  torch.save(torch.zeros(3), tensor)
  torch.save({'conv1.weight': torch.full((2, 2), float('nan'))}, nan)
  torch.save({'conv1.weight': torch.zeros((2, 2))}, tmp_path / 'e.pth')
  whole = {'conv1.weight': torch.zeros((2, 2)), 'bn1.num_batches_tracked': torch.tensor(5)}  # An int64 of its own.
  for name, tensors in (
      ('int', {**whole, 'conv1.weight': torch.zeros((2, 2), dtype=torch.int64)}),
      ('variance', {**whole, 'bn1.running_var': -torch.ones(2)}),
      ('meta', {**whole, 'fc.weight': torch.zeros((2, 2), device='meta')}),
  ):
    torch.save(tensors, tmp_path / f'{name}.pth')
  torch.save(torch.nn.Conv2d(3, 4, 3), tmp_path / 'module.pth')  # A whole model, pickled.
  torch.save({}, tmp_path / 'empty.pth')
  torch.save({**whole, 5: torch.zeros(1)}, tmp_path / 'intkey.pth')
  torch.save({**whole, 'fc.weight': torch.zeros((2, 2)).to_sparse()}, tmp_path / 'sparse.pth')
  for path, extra, message in (
      (tmp_path / 'missing.pth', [], 'does not exist'),
      (tmp_path, [], f'{tmp_path} is a directory: pass --torchvision=FILE.pth'),
      (text, [], 'is not a torch checkpoint'),
      (noise, [], 'is not a torch checkpoint'),
      (tensor, [], 'holds a Tensor, not a state_dict'),
      (nan, [], f'{nan}: conv1.weight holds NaN or infinite values: pass a torchvision ResNet state_dict'),
      (tmp_path / 'int.pth', [], 'int.pth: conv1.weight is int64, not floating-point'),
      (tmp_path / 'variance.pth', [], 'variance.pth: bn1.running_var holds negative variances'),
      (tmp_path / 'meta.pth', [], 'meta.pth: fc.weight holds no values (a tensor on the meta device)'),
      (tmp_path / 'module.pth', [], 'holds pickled Python objects (a whole model?), which are not read here: save'),
      (tmp_path / 'empty.pth', [], 'empty.pth holds no tensors: pass a torchvision ResNet state_dict'),
      (tmp_path / 'intkey.pth', [], 'intkey.pth holds a dict, not a state_dict of tensors'),
      (tmp_path / 'sparse.pth', [], 'sparse.pth: fc.weight is a sparse_coo tensor, not a dense one'),
      (tmp_path / 'e.pth', ['--config.num_replicas=2'], 'torchvision weights need --config.num_replicas=1'),
  ):
    done = run(
        'convert_torchvision',
        f'--torchvision={path}',
        '--config=configs/imagenet.py:resnet18,modern',
        *extra,
        f'--workdir={tmp_path / "w"}',
    )
    assert_refused(done, message, tmp_path / 'w')


def test_layer_deletion_refuses_more_blocks_than_the_net_has(trained):
  workdir, _ = trained
  done = run('layer_deletion', f'--workdirs={workdir}', '--ks=99', f'--out={workdir}-report')
  assert_refused(done, '--ks=99: resnet8-A has 1 block to delete at random, not 99', f'{workdir}-report')
  for script in ('layer_deletion', 'layer_responses'):  # One network twice: its rows would merge.
    done = run(script, f'--workdirs={workdir},{workdir}/', f'--out={workdir}-report')
    assert_refused(done, 'both of resnet8-A: the tables name nets by network', f'{workdir}-report')
  assert_refused(run('layer_responses', '--workdirs='), '--workdirs names no workdir')
  assert_refused(run('layer_responses', f'--workdirs={workdir},'), '--workdirs names no workdir, or an empty one')
  assert_refused(run('layer_responses'), '--workdirs is needed')


def test_converter_refuses_a_workdir_with_checkpoints(tmp_path):
  os.makedirs(tmp_path / 'w' / 'checkpoints' / '0')
  done = run(
      'convert_torchvision',
      f'--torchvision={tmp_path / "any.pth"}',
      '--config=configs/imagenet.py:resnet18,modern',
      f'--workdir={tmp_path / "w"}',
  )
  assert_refused(done, 'already holds checkpoints: convert into a new --workdir')
  os.makedirs(tmp_path / 'started')  # A run stopped before its first checkpoint: its rows are its own.
  (tmp_path / 'started' / 'metrics.jsonl').write_text('{"step": 1, "split": "train"}\n')
  done = run(
      'convert_torchvision',
      f'--torchvision={tmp_path / "any.pth"}',
      '--config=configs/imagenet.py:resnet18,modern',
      f'--workdir={tmp_path / "started"}',
  )
  assert_refused(done, 'already holds metrics: convert into a new --workdir')
