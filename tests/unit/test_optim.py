"""optim.py: steps per epoch, the warm-up rule, and the schedules' learning rates at their boundaries."""

import pytest

import configs
from resnet_jax.optim import learning_rate_schedule, steps_per_epoch, warmup_steps


def cifar(variant='resnet110'):
  return configs.named('cifar10', variant)


def test_the_paper_warms_up_resnet110_alone():
  deep, shallow = cifar('resnet110'), cifar('resnet56')
  assert warmup_steps(deep) == 400 and warmup_steps(shallow) == 0
  schedule = learning_rate_schedule(deep)
  lr = deep.optimizer.learning_rate
  assert schedule(0) == pytest.approx(lr * deep.schedule.warmup_factor)
  assert schedule(399) == pytest.approx(lr * deep.schedule.warmup_factor) and schedule(400) == pytest.approx(lr)


def test_step_schedule_decays_at_each_boundary():
  config = cifar('resnet56')
  schedule, lr = learning_rate_schedule(config), config.optimizer.learning_rate
  first, second = config.schedule.boundaries
  assert schedule(first - 1) == pytest.approx(lr) and schedule(first) == pytest.approx(lr * config.schedule.decay)
  assert schedule(second) == pytest.approx(lr * config.schedule.decay**2)


def test_epochs_count_steps_of_the_training_set():
  config = configs.named('imagenet', 'resnet50,modern')
  assert steps_per_epoch(config) == config.dataset.train_size // config.batch_size
  assert warmup_steps(config) == round(config.schedule.warmup_length * steps_per_epoch(config))
  schedule = learning_rate_schedule(config)
  assert schedule(0) == pytest.approx(0.0)  # The linear warm-up starts at 0.
  assert schedule(config.total_steps) == pytest.approx(0.0, abs=1e-6)  # The cosine ends at 0.
