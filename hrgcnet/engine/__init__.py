"""Training: the loop (:mod:`.train`: :class:`~hrgcnet.engine.train.Trainer`, schedules, checkpoints, stop on
signal), the exponential moving average of the weights (:mod:`.ema`) and the distributed helpers
(:mod:`.distributed`: DDP through torchrun, single-process otherwise)."""
