"""The papers' published numbers, and the tables that put ours beside them (Markdown and CSV).

Errors are top-1 (and top-5) errors in %; of a run of several replicas (seeds), in the paper's format
'best (mean±std)'. He et al. 2015 test ImageNet with 10 crops in Tables 2 and 3; ours say which protocol they
were measured with.
"""

import contextlib
import csv
import os

from resnet_jax import replicas
from resnet_jax.analysis import jpeg_offset
from resnet_jax.progress import Progress
from resnet_jax.reproduce import plots
from resnet_jax.results import best_mean_std
from resnet_jax.trained import TrainedNet
from resnet_jax.workdir import read_model, step_dirs

# He et al. 2015, Table 6: CIFAR-10 test error of the option-A ResNets, and their parameters.
CIFAR_TABLE6 = {
    'resnet20-A': ('0.27M', 8.75),
    'resnet32-A': ('0.46M', 7.51),
    'resnet44-A': ('0.66M', 7.17),
    'resnet56-A': ('0.85M', 6.97),
    'resnet110-A': ('1.7M', '6.43 (6.61±0.16)'),
    'resnet1202-A': ('19.4M', 7.93),
}  # ResNet-110: best (mean±std) of 5 runs.
# He et al. 2015, Table 2: ImageNet val top-1 error, 10-crop; the ResNets use option A (no extra parameters).
IMAGENET_TABLE2 = {'plain18': 27.94, 'plain34': 28.54, 'resnet18-A': 27.88, 'resnet34-A': 25.03}
# He et al. 2015, Table 3: ImageNet val (top-1, top-5) error, 10-crop.
IMAGENET_TABLE3 = {
    'plain34': (28.54, 10.02),
    'resnet34-A': (25.03, 7.76),
    'resnet34-B': (24.52, 7.46),
    'resnet34-C': (24.19, 7.40),
    'resnet50-B': (22.85, 6.71),
    'resnet101-B': (21.75, 6.05),
    'resnet152-B': (21.43, 5.71),
}
# The papers' claims that have no table: what our figures are compared with.
CLAIMS = {
    'depth': 'He et al. 2015, Fig. 4 and 6: deeper plain nets have higher training error (plain-34 above plain-18, '
    'plain-56 above plain-20); deeper ResNets have lower error; ResNet-1202 trains to a lower training '
    'error than ResNet-110 but tests worse (7.93% vs 6.43%).',
    'shortcuts': 'He et al. 2015, Table 3: A < B < C by small margins (ResNet-34: 25.03 / 24.52 / 24.19% top-1).',
    'responses': 'He et al. 2015, Fig. 7: ResNets have generally smaller layer responses than their plain twins, '
    'and the deeper the ResNet, the smaller its responses.',
    'single_deletion': 'Veit et al. 2016, Fig. 3: deleting one block of ResNet-110 on CIFAR-10 barely changes the '
    'error, except for the downsampling blocks; deleting one layer of a plain net (VGG) '
    'gives chance-level error (90%).',
    'random_deletion': 'Veit et al. 2016, Fig. 5a: the error grows smoothly with the number of blocks deleted.',
    'reordering': "Veit et al. 2016, Fig. 5b: the error grows smoothly as Kendall's tau of the block order falls.",
    'paths': 'Veit et al. 2016, Fig. 6: ResNet-110 (54 blocks) has path lengths Binomial(54, 1/2), mean 27; the '
    'gradient along a path falls exponentially with its length; nearly all of the gradient comes from '
    'paths 5 to 17 blocks long.',
}


def cell(value, digits: int = 2) -> str:
  if value is None:
    return '-'
  if isinstance(value, float):
    return f'{value:.{digits}f}' if value == 0 or 0.01 <= abs(value) < 1e5 else f'{value:.3g}'
  return str(value)


def write_table(out: str, name: str, title: str, header: list[str], rows: list[list], notes=()) -> str:
  """Writes out/name.md (a titled Markdown table with notes) and out/name.csv; returns the .md's path."""
  os.makedirs(out, exist_ok=True)
  lines = [f'## {title}', '', '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
  lines += [''] + [f'- {note}' for note in notes if note]
  markdown = '\n'.join(lines) + '\n'
  with open(os.path.join(out, f'{name}.md'), 'w') as f:
    f.write(markdown)
  with open(os.path.join(out, f'{name}.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows([['' if v is None else v for v in row] for row in rows])
  return os.path.join(out, f'{name}.md')


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


def trained_on(config: dict) -> str:
  """The data a run trained and was tested on, from its config.json: 'folder PATH', 'download', 'tfds [DIR]'."""
  d = config['dataset']
  return f'{d["source"]} {d["dir"]}'.strip() if d['source'] != 'download' else "download (the authors' archive)"


def configs(results: dict, names) -> dict:
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
          data_note(configs(results, names)),
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
      [data_note(configs(results, IMAGENET_TABLE2)), 'The paper tests with 10 crops.', CLAIMS['depth']],
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
      [data_note(configs(results, shown)), 'The paper tests with 10 crops.', CLAIMS['shortcuts']],
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
