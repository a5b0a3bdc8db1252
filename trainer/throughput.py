"""The preference model's scoring throughput in PyTorch by batch size, on the CPU or a GPU: how
much batching saves there (issue 4 asks for the model's throughput on a GPU when one is lent).
Each user has --history items and --candidates candidates, as in bench:inference.

python3 -m trainer.throughput [--checkpoint models/preference/1/ckpt.pt] [--device auto]
                              [--sizes 1,8,64,256] [--seconds 1] [--half]
"""
import argparse
import os
import time

import torch

from .export import example_inputs, load_checkpoint

DEFAULT_CHECKPOINT = os.path.join(os.path.dirname(__file__), "..", "models", "preference", "1", "ckpt.pt")


def ms_per_run(model, feeds, seconds, device):
    """Runs the model back to back for `seconds` (after a warm-up); milliseconds per run."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for _ in range(5):
            model(*feeds)
        sync()
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            model(*feeds)
            runs += 1
        sync()
        return 1000 * (time.perf_counter() - started) / runs


def measure(model, device, sizes, history, candidates, seconds, dtype=torch.float32):
    """One row per batch size: (users, ms per run, ms per user, candidates per second). The item
    vectors are given in `dtype`, the model's own (float16 with --half)."""
    dim = model.config.embedding_dim
    rows = []
    for users in sizes:
        history_vectors, labels, mask, candidate_vectors = (t.to(device) for t in example_inputs(dim, users, history, candidates))
        feeds = (history_vectors.to(dtype), labels, mask, candidate_vectors.to(dtype))
        ms = ms_per_run(model, feeds, seconds, device)
        rows.append((users, ms, ms / users, users * candidates * 1000 / ms))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when there is one)")
    parser.add_argument("--sizes", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--history", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (ignored on a GPU)")
    parser.add_argument("--half", action="store_true", help="float16 weights and inputs (GPU)")
    args = parser.parse_args()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device))
    torch.set_num_threads(args.threads)
    model, _ = load_checkpoint(args.checkpoint, device)
    model.eval()
    if args.half:
        model = model.half()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = measure(model, device, sizes, args.history, args.candidates, args.seconds, torch.float16 if args.half else torch.float32)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} torch thread(s)"
    print(f"\nPyTorch {torch.__version__} on {name}; {'float16' if args.half else 'float32'}; "
          f"{args.history} history items and {args.candidates} candidates per user; {args.seconds} s per size\n")
    print("| users per run | ms per run | ms per user | candidates/s | batch-1 time per user / this |")
    print("|---|---|---|---|---|")
    base = rows[0][2]
    for users, ms, per_user, rate in rows:
        print(f"| {users} | {ms:.3f} | {per_user:.4f} | {rate:,.0f} | {base / per_user:.1f}x |")
    print(f"\ncommand: /usr/bin/python3 -m trainer.throughput --device {args.device} --sizes {args.sizes} "
          f"--seconds {args.seconds} --threads {args.threads}{' --half' if args.half else ''}")


if __name__ == "__main__":
    main()
