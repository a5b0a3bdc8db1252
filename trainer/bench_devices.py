"""The trainer's training loop on each device and batch size, side by side in one run (issue 14,
item 5: "measure training throughput there"; bench:torch measures scoring, not training).

python3 -m trainer.bench_devices --data DIR [--devices cuda,cpu] [--batches 128,1024]
                                 [--epochs 2] [--seed 0] [--work DIR] [-- TRAINER FLAGS]

Each (device, batch) is one run of the trainer, alone, on the same command and seed, for
--epochs epochs (the network alone unless the flags ask for more). A steady epoch is the median
of the epochs after the first (metrics.json epoch_seconds): the first holds a GPU's start-up
(on an H200, 9.4 s against 7.5 s for the next). From it: episodes per second, milliseconds per
optimizer step, and the speed-up over the first device at the same batch. Larger batches take
fewer steps per epoch and train other weights: the validation figure is shown so that a faster
batch that learns less is seen, not as a comparison of designs (one seed, few epochs).
"""
import argparse
import os
import platform
import tempfile

import numpy as np
import torch

from .bench_train_time import HERE, integers, timed_run, trainer_flags

# Flags each run gets from the bench.
SET_BY_THE_BENCH = ("--data", "--out", "--seed", "--device", "--batch", "--epochs")


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the training dataset (trainer.train --data)")
    parser.add_argument("--devices", default="cuda,cpu" if torch.cuda.is_available() else "cpu",
                        help="cpu and/or cuda, the first being the one the others are compared with (default: cuda,cpu where "
                             "torch sees a GPU, else cpu)")
    parser.add_argument("--batches", default="128,1024", help="episodes per optimizer step (trainer.train --batch; its default is 128)")
    parser.add_argument("--epochs", type=int, default=2, help="at least 2: the first epoch is left out of the steady time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="where the models are written (default: a new temporary folder)")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="after --: trainer.train's flags")
    args = parser.parse_args(argv)
    args.flags = trainer_flags(parser, args.flags, SET_BY_THE_BENCH, "give the bench --data, --devices, --batches, --epochs, --seed")
    args.device_list = args.devices.split(",")
    for device in args.device_list:
        if device not in ("cpu", "cuda"):
            parser.error(f"--devices: expected cpu and/or cuda separated by commas, got {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            parser.error(f"--devices: this torch ({torch.__version__}) sees no CUDA device; give --devices cpu")
    args.batch_list = integers(parser, "--batches", args.batches)
    if min(args.batch_list) < 1:
        parser.error(f"--batches: expected sizes of at least 1, got {args.batches}")
    if args.epochs < 2:
        parser.error(f"--epochs: expected at least 2 (the first epoch is left out), got {args.epochs}")
    return args


def steady(metrics) -> dict:
    """A run's steady epoch: its seconds (median after the first), episodes/s and ms per step."""
    seconds = metrics["epoch_seconds"]
    episodes_per_epoch = metrics["episodes_per_second"] * metrics["train_seconds"] / len(seconds)
    epoch = float(np.median(seconds[1:]))
    return {"first": seconds[0], "epoch": epoch, "episodes_per_second": episodes_per_epoch / epoch,
            "episodes_per_epoch": episodes_per_epoch}


def device_name(device) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"{cpu_model()}, {os.cpu_count()} cores (the trainer uses one thread)"


def cpu_model() -> str:
    """The processor's name as Linux reports it, or the architecture where it does not."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def main(argv=None):
    args = parse(argv)
    work = args.work or tempfile.mkdtemp(prefix="tastegraph-devices-")
    rows = {}   # (device, batch): (wall seconds, steady epoch, metrics.json)
    for batch in args.batch_list:
        for device in args.device_list:
            out = os.path.join(work, f"{device}-batch{batch}")
            flags = [*args.flags, "--device", device, "--batch", str(batch), "--epochs", str(args.epochs)]
            wall, metrics = timed_run(HERE, args.data, out, args.seed, flags)
            rows[device, batch] = (wall, steady(metrics), metrics)
            print(f"{device}, batch {batch}: steady epoch {rows[device, batch][1]['epoch']:.2f} s, {wall:.0f} s from start to exit", flush=True)

    first = args.device_list[0]
    print(f"\n### The training loop by device and batch size on {args.data} (PyTorch {torch.__version__}; seed {args.seed}; "
          f"{args.epochs} epochs, the first left out)\n")
    for device in args.device_list:
        print(f"- {device}: {device_name(device)}")
    print(f"\n| device | batch | steps per epoch | first epoch (s) | steady epoch (s) | episodes/s | ms per step | "
          f"speed-up over {first} | validation pairwise |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batch in args.batch_list:
        for device in args.device_list:
            _, run, metrics = rows[device, batch]
            steps = -(-int(round(run["episodes_per_epoch"])) // batch)   # the last batch may be short
            val = metrics.get("val_pairwise")
            print(f"| {device} | {batch} | {steps} | {run['first']:.2f} | {run['epoch']:.2f} | {run['episodes_per_second']:,.0f} | "
                  f"{1000 * run['epoch'] / steps:.1f} | {rows[first, batch][1]['epoch'] / run['epoch']:.1f}x | "
                  f"{'-' if val is None else f'{val:.2f}'} |")
    print(f"\ncommand: npm run bench:devices -- --data {args.data} --devices {args.devices} --batches {args.batches} "
          f"--epochs {args.epochs} --seed {args.seed}" + (" -- " + " ".join(args.flags) if args.flags else ""))


if __name__ == "__main__":
    main()
