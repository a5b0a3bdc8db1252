"""How long the trainer takes from start to export (issue 14: "training of each model stays within
10 minutes on this CPU"), and another checkout's trainer on the same command beside it.

python3 -m trainer.bench_train_time --data DIR [--seeds 0,1,2] [--against CHECKOUT] [--against-flags "FLAGS"]
    [--work DIR] -- TRAINER FLAGS

Each run has the machine to itself (they run one after another): its wall seconds from starting
the process to its exit (reading the data, every network trained, the parts fitted after, the
export) and the training loop's own (metrics.json train_seconds), which leaves out the rest.
With --against, that checkout's trainer runs the same command after each of this one's: the
table gives both medians, their ratio, and whether the two trained the same weights (every
tensor of ckpt.pt equal), which says a change made the trainer faster and nothing else. With
--against-flags the second trainer (--against's, or this checkout's without it) gets those flags
after the shared ones, so that a setting's cost is timed beside the command without it.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Flags each run gets from the bench, so a run's seed and folder are the bench's to choose.
SET_BY_THE_BENCH = ("--data", "--out", "--seed")


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the training dataset (trainer.train --data)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--against", help="another checkout of this repository: its trainer runs the same command")
    parser.add_argument("--against-flags", default="", metavar="FLAGS",
                        help="trainer flags the second trainer adds after the shared ones (so they win), one string; "
                             "without --against the second trainer is this checkout's")
    parser.add_argument("--work", help="where the models are written (default: a new temporary folder)")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="after --: trainer.train's flags")
    args = parser.parse_args(argv)
    args.flags = trainer_flags(parser, args.flags, SET_BY_THE_BENCH, "give --data to the bench and --seeds for the seeds")
    args.seed_list = integers(parser, "--seeds", args.seeds)
    args.against_flag_list = trainer_flags(parser, args.against_flags.split(), SET_BY_THE_BENCH,
                                           "--against-flags holds only what the second trainer does differently")
    if args.against and not os.path.isfile(os.path.join(args.against, "trainer", "train.py")):
        parser.error(f"--against: {args.against} has no trainer/train.py")
    return args


def integers(parser, flag, text):
    """A comma-separated list of integers given to `flag`, or the parser's error naming it."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        parser.error(f"{flag}: expected integers separated by commas, got {text!r}")


def trainer_flags(parser, flags, set_by_the_bench, instead):
    """The trainer's flags after `--`, refusing any the bench sets itself (naming the flag, then
    `instead`: what to give the bench)."""
    flags = flags[1:] if flags[:1] == ["--"] else flags
    for flag in flags:
        if flag.split("=")[0] in set_by_the_bench:
            parser.error(f"{flag.split('=')[0]}: set by the bench for each run; {instead}")
    return flags


def timed_run(checkout, data, out, seed, flags):
    """(wall seconds, metrics.json) of checkout's trainer on one seed."""
    command = [sys.executable, "-m", "trainer.train", "--data", os.path.abspath(data), "--out", out, "--seed", str(seed), "--quiet", *flags]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=checkout, env={**os.environ, "PYTHONPATH": checkout}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the trainer of {checkout} failed on seed {seed} (exit {done.returncode}):\n{done.stderr[-2000:]}")
    with open(os.path.join(out, "metrics.json")) as f:
        return wall, json.load(f)


def same_weights(a_dir, b_dir) -> bool:
    """Whether two trained models are the same: config and every tensor of ckpt.pt equal."""
    a, b = (torch.load(os.path.join(d, "ckpt.pt"), map_location="cpu") for d in (a_dir, b_dir))
    return (a["config"] == b["config"] and a["state_dict"].keys() == b["state_dict"].keys()
            and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]))


def main(argv=None):
    args = parse(argv)
    work = args.work or tempfile.mkdtemp(prefix="tastegraph-train-time-")
    # name: (checkout, the folder under --work its models go to, its flags)
    checkouts = {"this checkout": (HERE, "this", args.flags)}
    if args.against or args.against_flag_list:
        checkouts["--against"] = (os.path.abspath(args.against or HERE), "against", args.flags + args.against_flag_list)
    compared = len(checkouts) > 1
    runs = {name: [] for name in checkouts}   # name: [(wall seconds, metrics.json)], in seed order
    same = {}                                 # seed: whether --against trained this checkout's weights
    for seed in args.seed_list:
        for name, (checkout, folder, flags) in checkouts.items():
            wall, metrics = timed_run(checkout, args.data, os.path.join(work, folder, f"seed{seed}"), seed, flags)
            runs[name].append((wall, metrics))
            print(f"seed {seed}: {name}: {wall:.0f} s from start to exit, {metrics['train_seconds']:.0f} s in the training loop", flush=True)
        if compared:
            same[seed] = same_weights(*(os.path.join(work, folder, f"seed{seed}") for _, folder, _ in checkouts.values()))
    walls = {name: [wall for wall, _ in done] for name, done in runs.items()}
    loops = {name: [metrics["train_seconds"] for _, metrics in done] for name, done in runs.items()}

    print(f"\n### The trainer's time on {args.data}, each run alone (seconds)\n")
    print("| seed | trainer | from start to exit | training loop | outside the loop | validation pairwise | same weights as this checkout |")
    print("|---|---|---|---|---|---|---|")
    for k, seed in enumerate(args.seed_list):
        for name in checkouts:
            wall, metrics = runs[name][k]
            loop, val = metrics["train_seconds"], metrics.get("val_pairwise")
            shown_val = "-" if val is None else f"{val:.2f}"
            shown_same = ("yes" if same[seed] else "no") if name == "--against" else "-"
            print(f"| {seed} | {name} | {wall:.1f} | {loop:.1f} | {wall - loop:.1f} | {shown_val} | {shown_same} |")
    for name in checkouts:
        print(f"| median | {name} | {np.median(walls[name]):.1f} | {np.median(loops[name]):.1f} | "
              f"{np.median(np.subtract(walls[name], loops[name])):.1f} | | |")
    if compared:
        print(f"\nthis checkout / --against, medians from start to exit: {np.median(walls['this checkout']) / np.median(walls['--against']):.2f}")
    print(f"\ncommand: npm run bench:train-time -- --data {args.data} --seeds {args.seeds}"
          + (f" --against {args.against}" if args.against else "")
          + (f' --against-flags "{args.against_flags}"' if args.against_flag_list else "") + " -- " + " ".join(args.flags))


if __name__ == "__main__":
    main()
