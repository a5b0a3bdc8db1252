"""The learning-rate schedule every network trains under: torch's one-cycle schedule, warming up
over the first 10% of the steps."""
import torch

WARM_UP_SHARE = 0.1


def one_cycle(optimizer, max_lr: float, total_steps: int):
    """OneCycleLR over `total_steps` with a warm-up of WARM_UP_SHARE of them. torch ends the warm-up
    at step share x total - 1 and divides by that step, so 0.1 of exactly 10 steps (a fine-tune of
    1, 2, 5 or 10 epochs on a small tenant) raised ZeroDivisionError. There the warm-up ends half a
    step later, which is what 0.1 gives 11 steps: one step at the starting rate, then the
    annealing. Every other length is scheduled as before, so it trains the same weights."""
    share = WARM_UP_SHARE
    if share * total_steps - 1 == 0:
        share = 1.5 / total_steps
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=share)
