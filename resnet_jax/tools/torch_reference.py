"""The same networks in PyTorch, as its users write them: the reference of the weight converter's test and the
PyTorch side of the benchmark. ImageNet nets have torchvision's layout and state_dict names (v1.5 bottleneck,
option B); CIFAR nets the paper's option A (identity, subsampled and zero-padded). Needs torch.
"""

import time

import torch
from torch import nn

from resnet_jax.models.depths import Architecture
from resnet_jax.tools.timing import median_step_seconds, timed_steps


def _option_a(x, stride: int, features: int):
  x = x[:, :, ::stride, ::stride]
  return nn.functional.pad(x, (0, 0, 0, 0, 0, features - x.shape[1]))


class BasicBlock(nn.Module):
  expansion = 1

  def __init__(self, cin: int, width: int, stride: int, shortcut: str):
    super().__init__()
    self.conv1, self.bn1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
    self.conv2, self.bn2 = nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
    self.downsample = _downsample(cin, width, stride, shortcut)
    self.stride, self.width, self.shortcut = stride, width, shortcut

  def residual(self, x):
    return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))

  def forward(self, x):
    return torch.relu(self.residual(x) + _skip(self, x))


class Bottleneck(BasicBlock):
  expansion = 4

  def __init__(self, cin: int, width: int, stride: int, shortcut: str):
    nn.Module.__init__(self)
    self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
    self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)  # v1.5
    self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
    self.downsample = _downsample(cin, width * 4, stride, shortcut)
    self.stride, self.width, self.shortcut = stride, width * 4, shortcut

  def residual(self, x):
    out = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
    return self.bn3(self.conv3(out))


def _downsample(cin: int, cout: int, stride: int, shortcut: str):
  if shortcut == 'B' and (stride != 1 or cin != cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
  return None


def _skip(block, x):
  if block.downsample is not None:
    return block.downsample(x)
  if block.stride != 1 or x.shape[1] != block.width:
    return _option_a(x, block.stride, block.width)
  return x


class TorchResNet(nn.Module):
  """A post-activation ResNet of `arch`, shortcut 'A' or 'B'."""

  def __init__(self, arch: Architecture, num_classes: int, shortcut: str):
    super().__init__()
    block = Bottleneck if arch.bottleneck else BasicBlock
    imagenet = arch.stem == 'imagenet'
    cin = arch.widths[0]
    self.conv1 = nn.Conv2d(3, cin, 7 if imagenet else 3, 2 if imagenet else 1, 3 if imagenet else 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cin)
    self.maxpool = nn.MaxPool2d(3, 2, 1) if imagenet else nn.Identity()
    for i, (count, width) in enumerate(zip(arch.stage_sizes, arch.widths)):
      blocks = []
      for j in range(count):
        blocks.append(block(cin, width, arch.stride(i) if j == 0 else 1, shortcut))
        cin = width * block.expansion
      setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
    self.num_stages = len(arch.stage_sizes)
    self.fc = nn.Linear(cin, num_classes)

  def forward(self, x):
    x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
    for i in range(self.num_stages):
      x = getattr(self, f'layer{i + 1}')(x)
    return self.fc(x.mean((2, 3)))


def create(arch: Architecture, num_classes: int, shortcut: str) -> nn.Module:
  """torchvision's model of `arch` where torchvision is installed and has it, else TorchResNet."""
  if arch.stem == 'imagenet' and shortcut == 'B':
    try:
      import torchvision

      return getattr(torchvision.models, f'resnet{arch.depth}')(num_classes=num_classes)
    except (ImportError, AttributeError):
      pass
  return TorchResNet(arch, num_classes, shortcut)


def train_step_timer(
    net: nn.Module,
    batch_size: int,
    image_size: int,
    num_classes: int,
    *,
    device: str,
    channels_last: bool,
    bf16: bool,
    compile: bool,
):
  """(one SGD step on a synthetic batch, a sync) for `net`, set up as PyTorch users run it at its fastest:
  channels_last memory format, bf16 autocast, torch.compile, as asked."""
  net = net.to(device).train()
  fmt = torch.channels_last if channels_last else torch.contiguous_format
  net = net.to(memory_format=fmt)
  images = torch.randn(batch_size, 3, image_size, image_size, device=device).contiguous(memory_format=fmt)
  labels = torch.randint(0, num_classes, (batch_size,), device=device)
  optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
  forward = torch.compile(net) if compile else net
  loss_fn = nn.CrossEntropyLoss()

  def step():
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
      loss = loss_fn(forward(images), labels)
    loss.backward()
    optimizer.step()

  def sync():
    if device == 'cuda':
      torch.cuda.synchronize()

  return step, sync


def conv_seconds(batch: int, size: int, channels: int, kernel: int, repeats: int) -> dict[str, float]:
  """benchmarking.jax_convs in PyTorch on the CPU, channels_last (oneDNN's kernels): the forward pass and the input
  and kernel gradients of one KxK, stride-1 layer padded by kernel // 2, each alone."""
  x = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last)
  w = torch.randn(channels, channels, kernel, kernel).contiguous(memory_format=torch.channels_last)
  g = torch.randn_like(x)
  pad = kernel // 2

  def gradient(mask):
    return lambda: torch.ops.aten.convolution_backward(
        g, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, mask
    )

  ops = {
      'forward': lambda: nn.functional.conv2d(x, w, padding=pad),
      'input gradient': gradient([True, False, False]),
      'kernel gradient': gradient([False, True, False]),
  }
  with torch.no_grad():
    return {name: median_step_seconds(op, lambda: None, 2, 1, repeats) for name, op in ops.items()}


def step_variants(platform_name: str, dtype: str, compile: bool) -> list[dict]:
  """The PyTorch set-ups to time: what its users would run on this device (eager on the CPU, channels_last,
  torch.compile if `compile`; bf16 autocast for dtype bfloat16), fastest last."""
  variants = [] if platform_name == 'gpu' else [{'name': 'torch eager', 'channels_last': False}]
  variants.append({'name': 'torch channels_last', 'channels_last': True})
  if compile:
    variants.append({'name': 'torch compile channels_last', 'channels_last': True, 'compile': True})
  bf16 = dtype == 'bfloat16'
  return [{'compile': False, **v, 'bf16': bf16, 'name': v['name'] + (' bf16' if bf16 else '')} for v in variants]


def step_rows(
    config, batch: int, dtype: str, platform_name: str, compile: bool, warmup: int, window: int, repeats: int
) -> list[dict]:
  """The training step of config's net in each of step_variants, timed as benchmarking.timed_steps times it:
  one row each, with images/s, compile seconds (torch.compile's first step less a step) and GPU memory."""
  from resnet_jax.models import architecture

  device = 'cuda' if platform_name == 'gpu' else 'cpu'
  rows = []
  for variant in step_variants(platform_name, dtype, compile):
    torch.manual_seed(0)
    net = create(
        architecture(config.model.family, config.model.depth), config.dataset.num_classes, config.model.shortcut
    )
    step, sync = train_step_timer(
        net,
        batch,
        config.dataset.image_size,
        config.dataset.num_classes,
        device=device,
        channels_last=variant['channels_last'],
        bf16=variant['bf16'],
        compile=variant['compile'],
    )
    if device == 'cuda':
      torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    step()
    sync()
    first = time.perf_counter() - start
    timing = timed_steps(step, sync, warmup, window, repeats)
    rows.append(
        {
            'implementation': variant['name'],
            'replicas': 1,
            'images_per_sec': batch / timing['step_seconds'],
            **timing,
            'compile_seconds': first - timing['step_seconds'] if variant['compile'] else None,
            'memory_bytes': torch.cuda.max_memory_allocated() if device == 'cuda' else None,
            'torch_net': type(net).__module__.split('.')[0] + '.' + type(net).__name__,
        }
    )
  return rows
