"""The papers' published numbers, and the tables that put ours beside them (Markdown and CSV).

Errors are top-1 (and top-5) errors in %; of a run of several replicas (seeds), in the paper's format
'best (mean±std)'. He et al. 2015 test ImageNet with 10 crops in Tables 2 and 3; ours say which protocol they
were measured with.
"""

import contextlib
import csv
import glob
import io
import json
import logging
import math
import os


import configs
from resnet_jax import replicas
from resnet_jax.analysis import jpeg_offset
from resnet_jax.progress import Progress
from resnet_jax.errors import WriteError
from resnet_jax.models import summary
from resnet_jax.reproduce import plots
from resnet_jax.reproduce.papers import (
    CIFAR_TABLE6,
    CLAIMS,
    IMAGENET_TABLE1,
    IMAGENET_TABLE2,
    IMAGENET_TABLE3,
    IMAGENET_TABLE4,
    IMAGENET_TABLE5,
)
from resnet_jax.results import best_mean_std, mean_std, values_text
from resnet_jax.trained import TrainedNet
from resnet_jax.workdir import read_model, step_dirs

log = logging.getLogger(__name__)


def cell(value, digits: int = 2) -> str:
  if value is None:
    return '-'
  if isinstance(value, float):
    return f'{value:.{digits}f}' if value == 0 or 0.01 <= abs(value) < 1e5 else f'{value:.3g}'
  return str(value)


def write_text(path: str, text: str) -> str:
  """Writes a report's file (its folder made where missing); a failure is a WriteError naming it. Returns `path`."""
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
      f.write(text)
  except OSError as e:
    raise WriteError(
        f'{path} cannot be written ({e.strerror or e}): free the disk or name a writable folder.'
    ) from None
  return path


def write_table(out: str, name: str, title: str, header: list[str], rows: list[list], notes=()) -> str:
  """Writes out/name.md (a titled Markdown table with notes) and out/name.csv; returns the .md's path."""
  lines = [f'## {title}', '', '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
  lines += [''] + [f'- {note}' for note in notes if note]
  table = io.StringIO()
  writer = csv.writer(table)
  writer.writerow(header)
  writer.writerows([['' if v is None else v for v in row] for row in rows])
  write_text(os.path.join(out, f'{name}.csv'), table.getvalue())
  return write_text(os.path.join(out, f'{name}.md'), '\n'.join(lines) + '\n')


def parameters(result, digits: int = 2) -> str | None:
  """A run's parameters in millions ('0.27M'), as its model.json records them; None where it records none."""
  facts = read_model(result.workdir)
  return f'{facts["params"] / 1e6:.{digits}f}M' if facts else None


def unrecorded_parameters(runs) -> str | None:
  """A table's note naming the runs whose parameters show as '-': their workdirs hold no model.json (which
  training writes, also on resuming)."""
  names = sorted(r.name for r in runs if read_model(r.workdir) is None)
  return f'Parameters "-": {", ".join(names)} recorded none (no model.json in the workdir).' if names else None


def status(result) -> str:
  """How far a run got, on what budget, and of how many replicas."""
  nets = replicas.count(result.config)
  of = replicas.of_several(nets, f', {nets} seeds')
  if not result.finished:
    saved = step_dirs(result.workdir)
    checkpoint = f'its newest checkpoint at step {saved[-1]:,}' if saved else 'no checkpoint yet'
    return f'unfinished: step {result.last_step:,} of {result.total_steps:,}, {checkpoint}{of}'
  return f'{result.total_steps:,} steps{of}'


def budget(config: dict) -> str:
  """A run's training budget beside its config file's recipe, in images seen (steps x batch): 'the recipe (64,000
  steps)', or 'short budget: 300 steps (0.47% of the recipe)'."""
  recipe = configs.named(configs.FILES[config['dataset']['name']])
  share = config['total_steps'] * config['batch_size'] / (recipe.total_steps * recipe.batch_size)
  if share >= 1:
    return f'the recipe ({config["total_steps"]:,} steps)'
  return f'short budget: {config["total_steps"]:,} steps ({100 * share:.2g}% of the recipe)'


def budgets(run_configs) -> str:
  """The budgets of several runs' configs, each once: 'the recipe (64,000 steps)', 'short budget: ...; ...'."""
  return '; '.join(sorted({budget(config) for config in run_configs})) or '-'


def write_record(out: str, name: str, record: dict) -> str:
  """Writes out/name.json, what a study measured, which the report's index reads; returns its path."""
  return write_text(os.path.join(out, f'{name}.json'), json.dumps(record, indent=1))


# What the report reads of each study's record (name.json): (the list of its nets, each net's fields, the record's
# own fields), each field with its kind: a type, FINITE (a finite number), PAIRS ([[x, y], ...] of finite numbers),
# MEAN ({'top1_error': finite}) or ROUTES (None, or the path lengths' ints).
FINITE, PAIRS, MEAN, ROUTES = 'finite', 'pairs', 'mean', 'routes'
RECORDS = {
    'ensemble': (
        'members',
        {'network': str, 'budget': str, 'data': str},
        {
            'dataset': str,
            'split': str,
            'protocol': str,
            'top1_error': FINITE,
            'top5_error': FINITE,
            'members_mean': MEAN,
        },
    ),
    'layer_responses': ('nets', {'name': str, 'residual': bool, 'depth': int, 'budget': str, 'mean_std': FINITE}, {}),
    'deletion': (
        'nets',
        {
            'name': str,
            'residual': bool,
            'classes': int,
            'budget': str,
            'baseline': FINITE,
            'single_deletion_mean': FINITE,
            'random_deletion': PAIRS,
            'reordering': PAIRS,
            'paths': ROUTES,
        },
        {},
    ),
}


def _is(value, kind) -> bool:
  if kind == FINITE:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
  if kind == PAIRS:
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(_is(x, FINITE) for x in p) for p in value
    )
  if kind == MEAN:
    return isinstance(value, dict) and _is(value.get('top1_error'), FINITE)
  if kind == ROUTES:
    keys = ('blocks', 'gradient_90_low', 'gradient_90_high')
    return value is None or (isinstance(value, dict) and all(_is(value.get(k), int) for k in keys))
  return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def record_fault(name: str, record) -> str | None:
  """What keeps a `name` record (RECORDS) from the report, or None where it holds what the report reads."""
  entries, fields, own = RECORDS[name]
  if not isinstance(record, dict):
    return 'it is not a JSON object'
  for key, kind in own.items():
    if not _is(record.get(key), kind):
      return f'its {key} is {json.dumps(record.get(key))[:40]}'
  items = record.get(entries)
  if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
    return f'its {entries} are {json.dumps(items)[:40]}, not a list of objects'
  for i, item in enumerate(items):
    for key, kind in fields.items():
      if not _is(item.get(key), kind):
        return f'{entries}[{i}].{key} is {json.dumps(item.get(key))[:40]}'
  return None


def studied_net(trained) -> dict:
  """What a study's record says of a net it studied (a TrainedNet): its name, workdir, step and budget, and what the
  papers' claims ask of it."""
  return {
      'name': trained.name,
      'workdir': os.path.abspath(trained.workdir),
      'step': trained.step,
      'budget': budget(trained.trained_config),
      'residual': trained.residual,
      'depth': trained.config.model.depth,
      'classes': trained.config.dataset.num_classes,
      'bn_stats': trained.bn_stats,
  }


def read_records(folder: str, name: str) -> list[tuple[str, dict]]:
  """(path, record) of every name.json under `folder` (write_record's), in path order; says which it leaves out,
  and why (unreadable, or not holding what RECORDS says)."""
  records = []
  for path in sorted(glob.glob(os.path.join(glob.escape(folder), '**', f'{name}.json'), recursive=True)):
    try:
      with open(path) as f:
        record = json.load(f)
    except (OSError, ValueError) as e:
      log.warning('Left out of the report: %s, which cannot be read (%s).', path, e)
      continue
    if fault := record_fault(name, record):
      log.warning('Left out of the report: %s, which is no %s record: %s.', path, name, fault)
    else:
      records.append((path, record))
  return records


def trained_on(config: dict) -> str:
  """The data a run trained and was tested on, from its config.json: 'folder PATH', 'download', 'tfds [DIR]'."""
  d = config['dataset']
  return f'{d["source"]} {d["dir"]}'.strip() if d['source'] != 'download' else "download (the authors' archive)"


def configs_of(results: dict, names) -> dict:
  """name -> config.json of the runs among `names` that results holds."""
  return {n: results[n].config for n in names if n in results}


def data_note(run_configs: dict, overrides=()) -> str:
  """A table's note: what each group of its runs (name -> config.json) trained and was tested on, and the
  overrides (KEY=VALUE) a study ran them with."""
  groups = {}
  for name, config in run_configs.items():
    groups.setdefault(trained_on(config), []).append(name)
  if not groups:
    return 'No run of this table was found under the root.'
  studied = f' Studied here with {", ".join(overrides)}.' if overrides else ''
  return (
      "Data (each run's config.json): "
      + '; '.join(f'{", ".join(sorted(names))} trained and tested on {data}' for data, names in sorted(groups.items()))
      + ('.' + studied)
  )


def ours(result, protocol: str | None = None) -> tuple[str | None, str | None, str]:
  """(top-1, top-5, protocol) of a run's final evaluation (the `protocol` rows if there are any, else the last):
  one net's errors, or of replicas the paper's 'best (mean±std)'."""
  rows = (protocol and result.finals(protocol)) or result.finals()
  if not rows:
    return None, None, '-'
  top5 = [r['top5_error'] for r in rows if 'top5_error' in r]
  return (
      best_mean_std([r['top1_error'] for r in rows]),
      best_mean_std(top5) if top5 else None,
      rows[0].get('protocol', 'as trained'),
  )


def cifar_depth_table(results: dict, out: str) -> str:
  """Table 6's layout: CIFAR-10 test error of plain nets and option-A ResNets by depth, the paper's beside ours."""
  names = sorted(
      (n for n in results if n.startswith('plain') or (n.startswith('resnet') and n.endswith('-A'))),
      key=lambda n: (results[n].config['model']['depth'], n),
  )
  rows = []
  for name in names:
    r = results[name]
    params, paper = CIFAR_TABLE6.get(name, (None, None))
    rows.append([name, r.config['model']['depth'], parameters(r), params, ours(r)[0], paper, status(r)])
  return write_table(
      out,
      'table6_cifar10',
      'CIFAR-10 test error by depth (He et al. 2015, Table 6)',
      ['network', 'depth', 'params (ours)', 'params (paper)', 'error % (ours)', 'error % (paper)', 'run'],
      rows,
      [
          data_note(configs_of(results, names)),
          unrecorded_parameters(results[n] for n in names),
          'The paper reports plain nets in Fig. 6 only: "-" in the paper column.',
          CLAIMS['depth'],
      ],
  )


def imagenet_table2(results: dict, out: str) -> str:
  rows = []
  for depth in (18, 34):
    row = [depth]
    for name in (f'plain{depth}', f'resnet{depth}-A'):
      top1, _, protocol = ours(results[name], 'ten_crop') if name in results else (None, None, '-')
      row += [top1, IMAGENET_TABLE2[name]]
    rows.append(row + [protocol])
  return write_table(
      out,
      'table2_imagenet',
      'ImageNet val top-1 error, plain vs ResNet (He et al. 2015, Table 2)',
      ['layers', 'plain (ours)', 'plain (paper)', 'ResNet-A (ours)', 'ResNet-A (paper)', 'our protocol'],
      rows,
      [data_note(configs_of(results, IMAGENET_TABLE2)), 'The paper tests with 10 crops.', CLAIMS['depth']],
  )


def imagenet_table3(results: dict, out: str) -> str:
  rows = []
  others = {
      n: (None, None)
      for n in sorted(results)
      if n not in IMAGENET_TABLE3 and (n[-2:] in ('-A', '-B', '-C') or n.startswith('plain'))
  }  # Depths the paper's table lacks (--depths).
  shown = {**IMAGENET_TABLE3, **others}
  for name, (paper1, paper5) in shown.items():
    top1, top5, protocol = ours(results[name], 'ten_crop') if name in results else (None, None, '-')
    rows.append([name, top1, paper1, top5, paper5, protocol, status(results[name]) if name in results else '-'])
  return write_table(
      out,
      'table3_imagenet',
      'ImageNet val error by shortcut option and depth (He et al. 2015, Table 3)',
      ['network', 'top-1 % (ours)', 'top-1 % (paper)', 'top-5 % (ours)', 'top-5 % (paper)', 'our protocol', 'run'],
      rows,
      [data_note(configs_of(results, shown)), 'The paper tests with 10 crops.', CLAIMS['shortcuts']],
  )


def cifar_shortcut_table(results: dict, out: str) -> str:
  """Options A, B and C on CIFAR nets: a cheap proxy of Table 3, which the paper does not report."""
  depths = sorted({r.config['model']['depth'] for n, r in results.items() if n.startswith('resnet')})
  rows = []
  for depth in depths:
    row = [f'resnet{depth}']
    for option in 'ABC':
      r = results.get(f'resnet{depth}-{option}')
      row += [ours(r)[0] if r else None, parameters(r, 3) if r else None]
    rows.append(row)
  shown = [r for n, r in sorted(results.items()) if n[-2:] in ('-A', '-B', '-C')]
  runs = '; '.join(f'{r.name}: {status(r)}' for r in shown)
  return write_table(
      out,
      'shortcuts_cifar10',
      'CIFAR-10 test error by shortcut option (a proxy of Table 3)',
      ['network', 'A error %', 'A params', 'B error %', 'B params', 'C error %', 'C params'],
      rows,
      [
          f'Runs: {runs}.',
          data_note({r.name: r.config for r in shown}),
          unrecorded_parameters(shown),
          'The paper reports no CIFAR shortcut ablation.',
          CLAIMS['shortcuts'],
      ],
  )


def _by_depth(runs):
  return sorted(runs, key=lambda r: r.config['model']['depth'])


def cifar_depth_figure(results: dict, out: str) -> str | None:
  """Fig. 6's layout: plain nets, option-A ResNets, and ResNet-110 against 1202 where both ran; None if none ran."""
  plain = [r for n, r in results.items() if n.startswith('plain')]
  resnets = [r for n, r in results.items() if n.startswith('resnet') and n.endswith('-A') and n != 'resnet1202-A']
  deep = [results[n] for n in ('resnet110-A', 'resnet1202-A') if n in results]
  panels = [
      (title, _by_depth(runs))
      for title, runs in (
          ('plain', plain),
          ('ResNet (option A)', resnets),
          ('ResNet-110 vs 1202', deep if len(deep) == 2 else []),
      )
      if runs
  ]
  return plots.error_curves(os.path.join(out, 'fig6_cifar10.png'), panels, 'test') if panels else None


def imagenet_depth_figure(results: dict, out: str) -> str | None:
  """Fig. 4's layout: plain-18/34 (left) and ResNet-18/34 (right; option A as in Table 2, else B); None if none
  ran."""
  plain = [results[n] for n in ('plain18', 'plain34') if n in results]
  resnets = [
      results.get(f'resnet{d}-A') or results[f'resnet{d}-B']
      for d in (18, 34)
      if f'resnet{d}-A' in results or f'resnet{d}-B' in results
  ]
  panels = [(title, runs) for title, runs in (('plain', plain), ('ResNet', resnets)) if runs]
  return plots.error_curves(os.path.join(out, 'fig4_imagenet.png'), panels, 'val') if panels else None


def trained_on_copy(results: dict, jpeg_copy: str) -> dict:
  """The runs of `results` that trained on the image folder or tarball `jpeg_copy` (the JPEG copy of CIFAR-10)."""
  copy = os.path.realpath(jpeg_copy)
  return {
      n: r
      for n, r in results.items()
      if r.config['dataset']['source'] == 'folder' and os.path.realpath(r.config['dataset']['dir']) == copy
  }


def cifar_jpeg_offset_table(results: dict, out: str, exact846: str, jpeg_copy: str) -> str:
  """Each CIFAR-10 net of `results` trained on `jpeg_copy` (trained_on_copy: at least one): its test error on the 846
  original-pixel images of `exact846` and on their JPEG twins (of several replicas: best (mean±std)), each net
  restored once."""
  on_copy = trained_on_copy(results, jpeg_copy)
  others = sorted(set(results) - set(on_copy))
  originals, twins, labels = jpeg_offset.load_846(exact846, jpeg_copy)
  nets = sum(replicas.count(r.config) for r in on_copy.values())
  progress = Progress('jpeg_offset_cifar10: nets evaluated', nets, every=0)
  rows = []
  for name, result in sorted(on_copy.items(), key=lambda item: (item[1].config['model']['depth'], item[0])):
    measured = []
    with contextlib.closing(TrainedNet(result.workdir)) as trained:  # One restore, data and compile for its replicas.
      for replica in range(replicas.count(result.config)):
        measured.append(jpeg_offset.jpeg_offset(trained.of_replica(replica), originals, twins, labels))
        progress.update()
    column = lambda key: best_mean_std([m[key] for m in measured])
    rows.append(
        [
            name,
            column('original_error'),
            column('jpeg_error'),
            column('jpeg_minus_original'),
            ours(result)[0],
            status(result),
        ]
    )
  return write_table(
      out,
      'jpeg_offset_cifar10',
      'What the JPEG copy costs: test error on 846 original-pixel images and on their JPEG twins',
      [
          'network',
          'error % (846 originals)',
          'error % (846 JPEG twins)',
          'JPEG - original',
          'error % (10k JPEG test set)',
          'run',
      ],
      rows,
      [
          f'The 846 images: {exact846} (the first 846 of the official test batch, original pixels); '
          f'their twins: the same images in {jpeg_copy} (JPEG quality about 75), which these nets '
          'trained and were tested on.',
          '846 images: one image is 0.118% of error.',
          *([f'Left out, trained on other data: {", ".join(others)}.'] if others else []),
      ],
  )


def imagenet_table1(results: dict, out: str) -> str:
  """Table 1's numbers: the ImageNet ResNets' parameters and multiply-adds, as the runs under the root recorded them
  (model.json) or, for a depth with no run, as the code computes them, beside the paper's FLOPs."""
  rows, sources = [], []
  for depth, paper in IMAGENET_TABLE1.items():
    run = next(
        (results[n] for n in sorted(results) if n.startswith(f'resnet{depth}-') and read_model(results[n].workdir)),
        None,
    )
    facts = read_model(run.workdir) if run else summary(configs.named('imagenet', f'resnet{depth}'))
    rows.append([f'{depth}-layer', facts['name'], f'{facts["params"] / 1e6:.1f}M', facts['macs'] / 1e9, paper])
    sources.append(f'{facts["name"]}: recorded by {run.workdir}' if run else None)
  recorded = [s for s in sources if s]
  return write_table(
      out,
      'table1_imagenet',
      'ImageNet ResNets: parameters and multiply-adds at 224x224 (He et al. 2015, Table 1)',
      ['layers', 'network', 'params (ours)', 'multiply-adds x10^9 (ours)', 'FLOPs x10^9 (paper)'],
      rows,
      [
          'The paper counts multiply-adds as FLOPs and gives no parameter counts.',
          ('; '.join(recorded) + '; the other depths computed from configs/imagenet.py.')
          if recorded
          else 'Computed from configs/imagenet.py (no ImageNet run under the root recorded its model.json).',
      ],
  )


def evaluated(result, protocol: str) -> tuple[str | None, str | None]:
  """(top-1, top-5) of a run's --mode=eval rows under `protocol` (as ours() gives them); Nones where it has none."""
  top1, top5, found = ours(result, protocol)
  return (top1, top5) if found == protocol else (None, None)


def imagenet_table4(results: dict, out: str) -> str:
  """Table 4: single-model ImageNet val error under both testing protocols, 10 crops (the paper's Table 3) and the
  fully-convolutional multi-scale one (its Table 4), from --mode=eval's rows of each protocol."""
  rows = []
  for name, (paper1, paper5) in IMAGENET_TABLE4.items():
    run = results.get(name)
    crops, scales = (evaluated(run, protocol) if run else (None, None) for protocol in ('ten_crop', 'multi_scale'))
    rows.append(
        [
            name,
            crops[0],
            IMAGENET_TABLE3[name][0],
            crops[1],
            IMAGENET_TABLE3[name][1],
            scales[0],
            paper1,
            scales[1],
            paper5,
            status(run) if run else '-',
        ]
    )
  return write_table(
      out,
      'table4_imagenet',
      'ImageNet val error of single models, 10-crop and multi-scale testing (He et al. 2015, Table 4)',
      [
          'network',
          'top-1 10-crop (ours)',
          'top-1 10-crop (paper)',
          'top-5 10-crop (ours)',
          'top-5 10-crop (paper)',
          'top-1 multi-scale (ours)',
          'top-1 multi-scale (paper)',
          'top-5 multi-scale (ours)',
          'top-5 multi-scale (paper)',
          'run',
      ],
      rows,
      [
          data_note(configs_of(results, IMAGENET_TABLE4)),
          'Ours: the rows of `launch.py --mode=eval --config.eval.protocol=ten_crop` (and `=multi_scale`) on the data '
          'trained on; "-" where a run was not evaluated so. The paper\'s 10-crop numbers are its Table 3\'s.',
      ],
  )


def ensemble_report(ensemble, out: str) -> list[str]:
  """An ensemble's tables (its members and itself; its error by number of members), figure and record
  (ensemble.json, which the report's Table 5 reads): their paths."""
  members, count = ensemble.members, len(ensemble.members)
  means = [mean_std([m.errors[key] for m in members])[0] for key in ('top1_error', 'top5_error')]
  rows = [[m.label, m.name, m.step, budget(m.config), m.errors['top1_error'], m.errors['top5_error']] for m in members]
  rows.append([f'ensemble of {count}', '', '', '', ensemble.errors['top1_error'], ensemble.errors['top5_error']])
  viewed = f'{ensemble.split} split, {ensemble.protocol}'
  table = write_table(
      out,
      'ensemble',
      f'Ensemble of {count} nets: {viewed} (He et al. 2015, Table 5)',
      ['member', 'network', 'step', 'budget', 'top-1 error %', 'top-5 error %'],
      rows,
      [
          "An image's score is the mean of the members' softmax scores, each the mean over its views; weights are "
          'never averaged.',
          f"The members' mean: top-1 {means[0]:.2f}%, top-5 {means[1]:.2f}%; the ensemble: "
          f'{ensemble.errors["top1_error"] - means[0]:+.2f} and {ensemble.errors["top5_error"] - means[1]:+.2f} '
          'points from it.',
          data_note({m.label: m.config for m in members}),
          'BN statistics: '
          + '; '.join(
              f'{", ".join(m.label for m in members if m.bn_stats == s)}: {s}'
              for s in dict.fromkeys(m.bn_stats for m in members)
          )
          + '.',
      ],
  )
  random_orders = ensemble.random_orders
  over_orders = lambda m, key: values_text([order[m][key] for order in random_orders], '.2f') if random_orders else None
  by_size = [
      [m + 1, row['top1_error'], row['top5_error'], over_orders(m, 'top1_error'), over_orders(m, 'top5_error')]
      for m, row in enumerate(ensemble.in_order)
  ]
  size_table = write_table(
      out,
      'ensemble_members',
      'Ensemble error by number of members',
      [
          'members',
          'top-1 % (order given)',
          'top-5 % (order given)',
          'top-1 % (random orders)',
          'top-5 % (random orders)',
      ],
      by_size,
      [f'Random orders: mean±std over {len(random_orders)} orders of the same members.' if random_orders else None],
  )
  figure = plots.ensemble_size(
      os.path.join(out, 'ensemble_members.png'), f'ensemble of {count}', ensemble.in_order, random_orders
  )
  record = write_record(
      out,
      'ensemble',
      {
          'dataset': members[0].config['dataset']['name'],
          'split': ensemble.split,
          'protocol': ensemble.protocol,
          'members': [
              {
                  'label': m.label,
                  'network': m.name,
                  'workdir': os.path.abspath(m.workdir),
                  'replica': m.replica,
                  'step': m.step,
                  'budget': budget(m.config),
                  'data': trained_on(m.config),
                  **m.errors,
              }
              for m in members
          ],
          'members_mean': {'top1_error': means[0], 'top5_error': means[1]},
          **ensemble.errors,
          'in_order': ensemble.in_order,
          'random_orders': random_orders,
      },
  )
  return [table, size_table, figure, record]


def ensemble_table5(records, out: str) -> str | None:
  """Table 5: each recorded ensemble (ensemble_report's records, (path, record)) beside the paper's; None if none."""
  if not records:
    return None
  rows = []
  for path, record in records:
    networks = sorted({m['network'] for m in record['members']})
    rows.append(
        [
            os.path.relpath(os.path.dirname(path), out),
            record['dataset'],
            len(record['members']),
            ', '.join(networks),
            record['top1_error'],
            record['top5_error'],
            record['members_mean']['top1_error'],
            f'{record["split"]}, {record["protocol"]}',
            '; '.join(sorted({m['budget'] for m in record['members']})),
        ]
    )
  rows.append(
      [
          'He et al. 2015 (ILSVRC 2015)',
          'imagenet2012',
          6,
          'six nets of different depths',
          None,
          IMAGENET_TABLE5,
          None,
          'ILSVRC test server',
          'the recipe',
      ]
  )
  return write_table(
      out,
      'table5_ensembles',
      'Ensembles (He et al. 2015, Table 5)',
      [
          'ensemble',
          'dataset',
          'members',
          'networks',
          'top-1 %',
          'top-5 %',
          "members' mean top-1 %",
          'tested on',
          'budget',
      ],
      rows,
      [
          "The paper's 3.57% is top-5 error on the ILSVRC 2015 test server; ours are on the val split (ImageNet) or "
          'the test split (CIFAR-10): the test server is not open to us.',
          "Data (each member's config.json): "
          + '; '.join(
              f'{os.path.relpath(os.path.dirname(path), out)} trained and tested on '
              + ', '.join(sorted({m['data'] for m in record['members']}))
              for path, record in records
          )
          + '.',
          'Each ensemble: its folder holds ensemble.md (every member) and ensemble_members.md (error by number of '
          'members).',
      ],
  )


def cifar_plain_figure(results: dict, out: str) -> str | None:
  """Fig. 1's layout: the training and test error of plain-20 and plain-56 on CIFAR-10; None unless both ran."""
  plain = [results[n] for n in ('plain20', 'plain56') if n in results]
  return (
      plots.error_curves(os.path.join(out, 'fig1_cifar10.png'), [('plain-20 vs plain-56', plain)], 'test')
      if len(plain) == 2
      else None
  )
