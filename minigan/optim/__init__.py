"""minigan.optim: optimisers that follow torch.optim's update equations, and schedules.

    from minigan import optim
    opt_D = optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    lr_s, mom_s = optim.paper_mnist_schedules(opt_D, updates_per_epoch=500)

Files: optimizer.py (the base class: parameters, state, saving), sgd.py, adam.py,
rmsprop.py, schedules.py, averaging.py (a moving or a plain average of
the parameters, for evaluation). The derivations are in docs/03-optimizers.md.
"""
from .adam import Adam
from .averaging import ExponentialMovingAverage, UniformAverage
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedules import ExponentialDecay, LambdaSchedule, LinearRamp, Schedule, paper_mnist_schedules
from .sgd import SGD
