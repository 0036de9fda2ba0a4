"""The report's index (README.md in the report's folder): every table and figure of He et al. 2015 and Veit et al.
2016, with our file, the published numbers, the budget and protocol ours were measured at, whether ours reproduces
the published claim, and, for what is missing, the command that fills it.

A table or figure of runs is 'measured' when every run it shows exists under the root; a study's figure when its
record (layer_responses.json, deletion.json, ensemble.json) is in the report's folder, which is where the commands
below write it.
"""

import dataclasses
import datetime
import os
import shlex

import ml_collections
import numpy as np

import configs
from configs import schema
from configs.common import value_text
from resnet_jax import replicas
from resnet_jax.reproduce import reporting, sweep
from resnet_jax.reproduce.papers import CIFAR_TABLE6, IMAGENET_TABLE2, IMAGENET_TABLE3, IMAGENET_TABLE4

HE, VEIT = 'He et al. 2015', 'Veit et al. 2016'
CIFAR_DEPTHS = (20, 32, 44, 56, 110)
ENSEMBLE = ('resnet34-B', 'resnet50-B', 'resnet101-B', 'resnet152-B')  # The depths of the paper's ensemble.


@dataclasses.dataclass
class Item:
  paper: str
  label: str  # 'Table 4', 'Fig. 7'.
  what: str
  published: str
  files: list[str]  # Ours, in the report's folder; those not written are left out.
  status: str  # 'measured', 'partial: ...', 'reproduced ...', 'not run'.
  budget: str  # The budgets ours were trained at; '-' where not run.
  commands: list[str]  # What fills what is missing.


def _plain(value):
  """A config value as config.json holds it (tuples as lists)."""
  return list(value) if isinstance(value, tuple) else value


class Root:
  """The runs under a root (sweep.collect's, per dataset name) and how to name a command that adds to them."""

  def __init__(self, root: str, out: str, results: dict[str, dict]):
    self.root, self.out, self.results = root, out, results

  def runs(self, dataset: str) -> dict:
    return self.results.get(dataset, {})

  def workdir(self, dataset: str, name: str) -> str:
    """Where the run of network `name` is, or where a sweep would put it."""
    run, seeds = self.runs(dataset).get(name), self.replicas(dataset)
    return run.workdir if run else os.path.join(self.root, dataset, name + (f'-x{seeds}' if seeds > 1 else ''))

  def settings(self, dataset: str) -> list[str]:
    """KEY=VALUE of what the root's runs of `dataset` set beyond their config file and budget (the first run's: its
    data, batch, ...), as a command that adds a run to them must; for a dataset with no run, what its config file
    needs ('IMAGENET_DIR': yours)."""
    runs = [self.runs(dataset)[n] for n in sorted(self.runs(dataset))]
    if not runs:
      return [] if dataset == 'cifar10' else ['dataset.dir=IMAGENET_DIR']
    config = ml_collections.ConfigDict(runs[0].config)
    model = config.model
    variant = f'plain{model.depth}' if model.shortcut == 'none' else f'resnet{model.depth}-{model.shortcut}'
    recipe = schema.flatten(configs.named(configs.FILES[dataset], variant))
    own = set(sweep.SWEPT_KEYS) | {override.partition('=')[0] for override in self.budget(dataset, config)}
    return [
        f'{key}={value_text(value)}'
        for key, value in sorted(schema.flatten(config).items())
        if key in recipe and key not in own and _plain(value) != _plain(recipe[key])
    ]

  def steps(self, dataset: str) -> int | None:
    """The short budget (steps) the root's runs of `dataset` share; None where they ran the recipe or differ."""
    steps = {run.total_steps for run in self.runs(dataset).values()}
    recipe = configs.named(configs.FILES[dataset]).total_steps
    return steps.pop() if len(steps) == 1 and min(steps) < recipe else None

  def budget(self, dataset: str, config) -> tuple[str, ...]:
    """The overrides of the short budget the root's runs of `dataset` share (sweep.budget_overrides), or none."""
    steps = self.steps(dataset)
    return sweep.budget_overrides(config, steps) if steps else ()

  def replicas(self, dataset: str) -> int:
    """The seeds of each of the root's runs of `dataset` where they share a number; else 1."""
    counts = {replicas.count(run.config) for run in self.runs(dataset).values()}
    return counts.pop() if len(counts) == 1 else 1

  @staticmethod
  def command(program: str, *arguments: str) -> str:
    """A command line, as a shell reads it: python PROGRAM ARGUMENTS."""
    return shlex.join(['python', program, *arguments])

  def evaluate(self, dataset: str, name: str, protocol: str) -> str:
    """The command that evaluates a run under the root with an ImageNet testing protocol."""
    return self.command(
        'launch.py', '--mode=eval', f'--workdir={self.workdir(dataset, name)}', f'--config.eval.protocol={protocol}'
    )

  def sweep(self, program: str, dataset: str, *extra: str) -> str:
    """The command of a sweep (depth_ablation, shortcut_ablation) that adds the missing runs under the root."""
    steps, seeds = self.steps(dataset), self.replicas(dataset)
    arguments = [f'--dataset={configs.FILES[dataset]}', f'--root={self.root}', *extra]
    arguments += [f'--set={s}' for s in self.settings(dataset)] + ([f'--steps={steps}'] if steps else [])
    return self.command(f'experiments/{program}.py', *arguments, *([f'--replicas={seeds}'] if seeds > 1 else []))

  def launch(self, dataset: str, variant: str) -> str:
    """The command that trains one run under the root, as a sweep would."""
    file, seeds = configs.FILES[dataset], self.replicas(dataset)
    budget = self.budget(dataset, configs.named(file, variant))
    overrides = (*self.settings(dataset), *budget, *([f'num_replicas={seeds}'] if seeds > 1 else []))
    job = sweep.Job(file, variant, overrides, self.root)
    settings = [f'--config.{override}' for override in job.overrides]
    return self.command('launch.py', f'--config=configs/{file}.py:{variant}', f'--workdir={job.workdir}', *settings)

  def study_commands(self, program: str, dataset: str, names) -> list[str]:
    """The command of a study of the runs `names` (of the depth sweep) that writes its record into the report's
    folder, after the depth sweep where some of them are missing."""
    workdirs = ','.join(self.workdir(dataset, n) for n in names)
    study = self.command(f'experiments/{program}.py', f'--workdirs={workdirs}', f'--out={self.out}')
    missing = [n for n in names if n not in self.runs(dataset)]
    return ([self.sweep('depth_ablation', dataset)] if missing else []) + [study]


def runs_status(runs: dict, names) -> tuple[str, str, list[str]]:
  """(status, budget and protocol, missing or unfinished runs) of a table or figure of the runs `names`."""
  have = [n for n in names if n in runs]
  missing = [n for n in names if n not in runs]
  unfinished = [n for n in have if not runs[n].finished]
  if not have:
    return 'not run', '-', missing
  status = 'measured' if not missing else f'partial: {len(have)} of {len(names)} runs, missing {", ".join(missing)}'
  if unfinished:
    status += f'; unfinished: {", ".join(unfinished)}'
  protocols = sorted({reporting.ours(runs[n], 'ten_crop')[2] for n in have})
  budget = f'{reporting.budgets(runs[n].config for n in have)}; tested {", ".join(protocols)}'
  return status, budget, missing + unfinished


def verdict(checks: list[tuple[bool, str]], about: str) -> str:
  """'reproduced (...)' or 'not reproduced (...)' from (holds, what was measured) checks; where there is none, why."""
  if not checks:
    return f'measured; no verdict: {about}'
  holds = all(ok for ok, _ in checks)
  shown = [text for ok, text in checks if holds or not ok]
  return f'{"reproduced" if holds else "not reproduced"} ({"; ".join(shown)})'


def below(a: dict, b: dict, key: str) -> tuple[bool, str]:
  """Whether net a's `key` is below net b's, and the numbers that say so."""
  holds = a[key] < b[key]
  return holds, f'{a["name"]} {a[key]:.3g} {"<" if holds else "not below"} {b["name"]} {b[key]:.3g}'


def responses_checks(nets: list[dict]) -> list[tuple[bool, str]]:
  """Fig. 7: each ResNet's responses below its plain twin's (same depth), and a deeper ResNet's below a shallower."""
  plain = {n['depth']: n for n in nets if not n['residual']}
  resnets = sorted((n for n in nets if n['residual']), key=lambda n: n['depth'])
  checks = [below(r, plain[r['depth']], 'mean_std') for r in resnets if r['depth'] in plain]
  deeper = [
      below(deep, shallow, 'mean_std')
      for shallow, deep in zip(resnets, resnets[1:])
      if deep['depth'] > shallow['depth']
  ]
  return checks + deeper


def single_deletion_checks(nets: list[dict]) -> list[tuple[bool, str]]:
  """Veit's Fig. 3: one block deleted leaves a ResNet's error nearer its own than chance, a plain net's nearer
  chance."""
  checks = []
  for net in nets:
    chance = 100 * (1 - 1 / net['classes'])
    nearer_own = net['single_deletion_mean'] - net['baseline'] < (chance - net['baseline']) / 2
    checks.append(
        (
            nearer_own == net['residual'],
            f'{net["name"]} {net["baseline"]:.1f}% -> {net["single_deletion_mean"]:.1f}% (chance {chance:.0f}%)',
        )
    )
  return checks


def _ranks(values: np.ndarray) -> np.ndarray:
  """Each value's rank (0-based), ties given their mean rank."""
  ranks = np.empty(len(values))
  ranks[values.argsort(kind='stable')] = np.arange(len(values))
  for value in np.unique(values):
    ranks[values == value] = ranks[values == value].mean()
  return ranks


def rank_correlation(pairs) -> float:
  """Spearman's rho of (x, y) pairs; NaN where either does not vary."""
  x, y = np.asarray(pairs, np.float64).reshape(-1, 2).T
  if len(set(x)) < 2 or len(set(y)) < 2:
    return float('nan')
  return float(np.corrcoef(_ranks(x), _ranks(y))[0, 1])


def random_deletion_checks(nets: list[dict]) -> list[tuple[bool, str]]:
  """Veit's Fig. 5a: a ResNet's mean error rises with the number of blocks deleted (Spearman's rho >= 0.8)."""
  checks = []
  for net in nets:
    if net['residual'] and len(net['random_deletion']) >= 3:
      rho = rank_correlation(net['random_deletion'])
      checks.append((rho >= 0.8, f'{net["name"]}: rho(k, error) {rho:.2f}'))
  return checks


def reordering_checks(nets: list[dict]) -> list[tuple[bool, str]]:
  """Veit's Fig. 5b: a ResNet's error rises as Kendall's tau of its block order falls (Spearman's rho <= -0.5)."""
  checks = []
  for net in nets:
    if net['residual'] and len({tau for tau, _ in net['reordering']}) >= 3:
      rho = rank_correlation(net['reordering'])
      checks.append((rho <= -0.5, f'{net["name"]}: rho(tau, error) {rho:.2f}'))
  return checks


def path_checks(nets: list[dict]) -> list[tuple[bool, str]]:
  """Veit's Fig. 6: 90% of a ResNet's gradient comes from paths shorter than its typical path (n/2 of n blocks)."""
  checks = []
  for net in nets:
    if net['residual'] and net.get('paths'):
      paths = net['paths']
      checks.append(
          (
              paths['gradient_90_high'] < paths['blocks'] / 2,
              f'{net["name"]}: 90% of the gradient from paths of length {paths["gradient_90_low"]} to '
              f'{paths["gradient_90_high"]}, against half its {paths["blocks"]} blocks, {paths["blocks"] / 2:g}',
          )
      )
  return checks


def study_item(paper, label, what, published, files, records, checks, about, commands, partial=None) -> Item:
  """An item of a study's record (the newest of `records`, (path, record)), its verdict from `checks`; where
  partial(nets) names what the claim asks and the record lacks, 'partial, ...'."""
  if not records:
    return Item(paper, label, what, published, files, 'not run', '-', commands)
  nets = records[-1][1]['nets']
  budget = '; '.join(sorted({net['budget'] for net in nets}))
  status = verdict(checks(nets), about)
  if partial and (lacking := partial(nets)) and not status.startswith('measured; no verdict'):
    status = f'partial, {lacking}: {status}'
  return Item(paper, label, what, published, files, status, budget, commands if status.startswith('partial') else [])


def items(index: Root) -> list[Item]:
  cifar, imagenet = index.runs('cifar10'), index.runs('imagenet2012')
  cifar_resnets = [f'resnet{d}-A' for d in CIFAR_DEPTHS]
  cifar_plain = [f'plain{d}' for d in CIFAR_DEPTHS]
  cifar_depth = index.sweep('depth_ablation', 'cifar10')
  imagenet_depth = index.sweep('depth_ablation', 'imagenet2012')
  made = []

  def of_runs(paper, label, what, published, files, runs, names, commands):
    status, budget, missing = runs_status(runs, names)
    if status == 'not run' and set(files) & set(_listing(index.out)):
      status = "not run at the paper's networks (the file shows others)"
    made.append(Item(paper, label, what, published, files, status, budget, commands(missing) if missing else []))

  made.append(
      Item(
          HE,
          'Table 1',
          'ImageNet architectures: parameters and multiply-adds',
          'FLOPs 1.8, 3.6, 3.8, 7.6, 11.3 x10^9 (18 to 152 layers)',
          ['table1_imagenet.md'],
          'measured (from the code, and the runs that recorded model.json)',
          'no training',
          [],
      )
  )
  of_runs(
      HE,
      'Table 2',
      'ImageNet top-1 error, plain vs ResNet-A, 18 and 34 layers',
      'plain 27.94 / 28.54, ResNet 27.88 / 25.03 (10-crop)',
      ['table2_imagenet.md'],
      imagenet,
      list(IMAGENET_TABLE2),
      lambda missing: [imagenet_depth],
  )
  shortcut_nets = [n for n in IMAGENET_TABLE3 if n.startswith('plain') or n.startswith('resnet34')]
  of_runs(
      HE,
      'Table 3',
      'ImageNet error by shortcut option (A, B, C) and depth',
      'ResNet-34 A/B/C 25.03 / 24.52 / 24.19, ResNet-152 21.43 top-1 (10-crop)',
      ['table3_imagenet.md'],
      imagenet,
      list(IMAGENET_TABLE3),
      lambda missing: [index.sweep('shortcut_ablation', 'imagenet2012')] * any(n in shortcut_nets for n in missing)
      + [index.launch('imagenet2012', n.removesuffix('-B')) for n in missing if n not in shortcut_nets],
  )
  evaluated = {
      n: r for n, r in imagenet.items() if n in IMAGENET_TABLE4 and r.finals('ten_crop') and r.finals('multi_scale')
  }
  of_runs(
      HE,
      'Table 4',
      'ImageNet single-model error, 10-crop and multi-scale testing',
      'ResNet-152 19.38 top-1, 4.49 top-5 (multi-scale)',
      ['table4_imagenet.md'],
      evaluated,
      list(IMAGENET_TABLE4),
      lambda missing: [
          command
          for n in missing
          for command in [index.launch('imagenet2012', n.removesuffix('-B'))] * (n not in imagenet)
          + [index.evaluate('imagenet2012', n, protocol) for protocol in ('ten_crop', 'multi_scale')]
      ],
  )
  ensembles = reporting.read_records(index.out, 'ensemble')
  on_imagenet = [record for _, record in ensembles if record['dataset'] == 'imagenet2012']
  ensemble_commands = [index.launch('imagenet2012', n.removesuffix('-B')) for n in ENSEMBLE if n not in imagenet]
  ensemble_commands.append(
      index.command(
          'experiments/ensemble.py',
          f'--workdirs={",".join(index.workdir("imagenet2012", n) for n in ENSEMBLE)}',
          f'--out={os.path.join(index.out, "ensemble_imagenet")}',
          '--set=eval.protocol=ten_crop',
      )
  )
  made.append(
      Item(
          HE,
          'Table 5',
          'Ensembles: top-5 error',
          '3.57 top-5 (six nets, ILSVRC 2015 test server)',
          ['table5_ensembles.md'],
          ('measured' if on_imagenet else 'partial: CIFAR-10 only, ImageNet not run') if ensembles else 'not run',
          '; '.join(sorted({m['budget'] for _, record in ensembles for m in record['members']})) or '-',
          [] if on_imagenet else ensemble_commands,
      )
  )
  of_runs(
      HE,
      'Table 6',
      'CIFAR-10 test error of ResNets (option A) by depth',
      'ResNet-20 8.75 ... ResNet-110 6.43 (6.61±0.16), ResNet-1202 7.93',
      ['table6_cifar10.md'],
      cifar,
      [n for n in CIFAR_TABLE6 if n != 'resnet1202-A'],
      lambda missing: [cifar_depth],
  )
  of_runs(
      HE,
      'Fig. 1',
      'CIFAR-10 training and test error, plain-20 vs plain-56',
      'plain-56 above plain-20 in both',
      ['fig1_cifar10.png'],
      cifar,
      ['plain20', 'plain56'],
      lambda missing: [cifar_depth],
  )
  of_runs(
      HE,
      'Fig. 4',
      'ImageNet training and val error curves, plain vs ResNet, 18 and 34 layers',
      'plain-34 above plain-18; ResNet-34 below ResNet-18',
      ['fig4_imagenet.png'],
      imagenet,
      list(IMAGENET_TABLE2),
      lambda missing: [imagenet_depth],
  )
  of_runs(
      HE,
      'Fig. 6',
      'CIFAR-10 training and test error curves, plain nets and ResNets by depth',
      'deeper plain nets train worse; deeper ResNets better',
      ['fig6_cifar10.png'],
      cifar,
      cifar_plain + cifar_resnets,
      lambda missing: [cifar_depth],
  )
  responses = reporting.read_records(index.out, 'layer_responses')
  made.append(
      study_item(
          HE,
          'Fig. 7',
          'Std of the layer responses, plain vs ResNet',
          'ResNets respond less than plain nets, deeper ResNets less still',
          ['layer_responses.md', 'fig7_layer_responses.png'],
          responses,
          responses_checks,
          'no plain net beside a ResNet of its depth, nor two ResNets of different depths',
          index.study_commands(
              'layer_responses', 'cifar10', ['plain20', 'plain56', 'resnet20-A', 'resnet56-A', 'resnet110-A']
          ),
          partial=lambda nets: None
          if {n['residual'] for n in nets} == {True, False}
          else 'no plain net beside a ResNet',
      )
  )
  deletion = reporting.read_records(index.out, 'deletion')
  deletion_commands = index.study_commands('layer_deletion', 'cifar10', ['resnet110-A', 'plain110'])
  veit = [
      (
          'Fig. 3',
          'Deleting one block',
          'a ResNet barely changes (but at downsampling); a plain net drops to chance',
          ['deletion.md', 'single_deletion.md', 'fig_deletion.png'],
          single_deletion_checks,
          'no net studied',
      ),
      (
          'Fig. 5a',
          'Deleting k random blocks',
          'the error grows smoothly with k',
          ['random_deletion.md', 'fig_deletion.png'],
          random_deletion_checks,
          'no ResNet studied with three or more k',
      ),
      (
          'Fig. 5b',
          'Reordering blocks',
          "the error grows smoothly as Kendall's tau falls",
          ['reordering.md', 'fig_deletion.png'],
          reordering_checks,
          'no ResNet studied with three or more distinct orders',
      ),
      (
          'Fig. 6',
          'Path lengths and the gradient by path length',
          'ResNet-110: paths Binomial(54, 1/2); the gradient comes from paths of 5-17 blocks',
          [
              os.path.basename(p)
              for p in sorted(_listing(index.out))
              if p.startswith('paths_') and p.endswith(('.md', '.png'))
          ],
          path_checks,
          'no ResNet studied with --path_samples above 0',
      ),
  ]
  for label, what, published, files, checks, about in veit:
    made.append(study_item(VEIT, label, what, published, files, deletion, checks, about, deletion_commands))
  return made


def _listing(folder: str) -> list[str]:
  return os.listdir(folder) if os.path.isdir(folder) else []


def write_index(root: str, out: str, results: dict[str, dict]) -> str:
  """Writes out/README.md, the index of both papers' tables and figures for the runs under `root` (sweep.collect's,
  per dataset name) and the studies' records in `out`; returns its path."""
  index = Root(root, out, results)
  made = items(index)
  present = set(_listing(out))
  unmeasured = [i for i in made if i.status.startswith('not run')]
  whole = sum(i not in unmeasured and not i.status.startswith('partial') for i in made)
  lines = [
      f'# He et al. 2015 and Veit et al. 2016: what {root} reproduces',
      '',
      f'Written by `python experiments/reproduce_tables.py --root={root}` on {datetime.date.today()}: '
      f'{len(made) - len(unmeasured)} of {len(made)} tables and figures hold our results ({whole} in whole).',
      '',
      '| paper | item | what | ours | published | budget | status |',
      '|---|---|---|---|---|---|---|',
  ]
  for item in made:
    files = ', '.join(f'[{name}]({name})' for name in item.files if name in present) or '-'
    status = item.status + (' (commands below)' if item.commands else '')
    lines.append(
        f'| {item.paper} | {item.label} | {item.what} | {files} | {item.published} | {item.budget} | {status} |'
    )
  lines += ['', '## What fills the rest', '']
  lines += [f'- {i.paper}, {i.label}: ' + '; then '.join(f'`{c}`' for c in i.commands) for i in made if i.commands]
  if not any(i.commands for i in made):
    lines.append('Nothing: every table and figure is measured.')
  lines += [
      '',
      'He et al. 2015, Figs. 2, 3 and 5 draw the architecture (docs/models.md), not results. A short budget is a '
      "fraction of the recipe's training (the config file's), in images seen; its numbers are not the papers'.",
  ]
  return reporting.write_text(os.path.join(out, 'README.md'), '\n'.join(lines) + '\n')
