"""Taste groups by the number of latent classes, offline and without training a network: for each
seed, the latent classes a tenant's first model would fit (trainer.train --group-from classes, on
the same training users: the validation split of that seed held out), as the served taste-group
network, at each count asked (`auto`: trainer/class_count.py's choice, as the trainer serves it),
and how well their embeddings group a synthetic world's users (the adjusted Rand index, ARI,
against users.csv's groups) at the world's number of groups and at the k silhouette chooses, as
the platform clusters them (bench_group_ari: the taste half at unit length, the smallest k within
0.02 of the best, k up to --k-max or the classes' count where that is more); for the training
users also at k = the count the held-out likelihood found (the dashboard's button, which calls
refreshTasteGroups(k) with ModelVersion.tasteClasses.found). The scoring network does not enter
the user embedding with --group-from classes, so none is trained (the classes set the taste-group
network's tastes exactly, whatever its other weights). With more than one count, the last rows are
each count's paired difference from the first's, mean ± standard error over seeds.

npm run bench:class-count -- --world W [--counts auto,10] [--seeds 0,1,2] [--k-max 12] [--folds 2]   (python3 -m trainer.bench_class_count)
"""
import argparse
import time

import numpy as np

from .bench_group_ari import chosen_k, latest_history, embeddings, platform_points
from .bench_train_time import integers
from .class_count import class_count_for_run
from .clustering import adjusted_rand_index, kmeans
from .data import read_dataset, validation_split
from .group_network import class_group_network
from .model import ModelConfig

# EMBEDDING_HISTORY_PER_KIND: the likes and dislikes a user's embedding reads.
PER_KIND = 32


def grouped(dataset):
    """(users with a known group, their groups, each one's latest PER_KIND likes and dislikes)."""
    users = sorted(u for u in dataset.users if u in dataset.groups)
    return users, np.array([dataset.groups[u] for u in users]), [latest_history(dataset.users[u], PER_KIND) for u in users]


def counts_of(parser, text):
    """`auto` or whole numbers of at least 2, comma-separated."""
    counts = []
    for part in text.split(","):
        if part != "auto" and not (part.isdigit() and int(part) >= 2):
            parser.error(f"--counts: expected auto or whole numbers of classes of at least 2, got {part!r}")
        counts.append(part)
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", required=True, help="a synthetic world (npm run synth) with train/ and test/")
    parser.add_argument("--counts", default="auto,10", help="counts of classes compared: auto or numbers")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--k-max", type=int, default=12, help="the largest k silhouette may choose (TASTE_GROUPS_MAX_K)")
    parser.add_argument("--folds", type=int, default=2,
                        help="parts of the training users the count is chosen by, each held out in turn (the trainer's: 2)")
    args = parser.parse_args()
    seeds, counts = integers(parser, "--seeds", args.seeds), counts_of(parser, args.counts)
    if args.k_max < 2:
        parser.error(f"--k-max: {args.k_max} leaves no k to choose (2 or more)")
    if args.folds < 2:
        parser.error(f"--folds: {args.folds} leaves no part to hold out (2 or more)")
    train, test = read_dataset(f"{args.world}/train"), read_dataset(f"{args.world}/test")
    sets = {"test": (test, *grouped(test)), "training": (train, *grouped(train))}
    if not sets["test"][1]:
        parser.error(f"--world: {args.world}/test has no users.csv with groups (write the world with `npm run synth`)")
    k_true = len(set(sets["test"][2].tolist()))
    config = ModelConfig(embedding_dim=train.dim)

    print(f"\n### {args.world}: {k_true} groups, {len(sets['test'][1])} test users\n")
    print(f"| seed | classes asked | classes | test ARI at k = {k_true} | test k by silhouette | ARI there | silhouette "
          "| training users' k by silhouette | ARI there | their ARI at k = the count found | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    by_asked = {asked: [] for asked in counts}
    for seed in seeds:
        train_ids = validation_split(train, None, seed)[0]
        for asked in counts:
            start = time.perf_counter()
            classes, record = class_count_for_run(train, train_ids, seed, config.width, None if asked == "auto" else int(asked),
                                                  args.folds)
            chosen = record["chosen"]
            # Found on held-out users (not asked for, and not one shared taste, which no k shows).
            found = chosen if asked == "auto" and chosen is not None and chosen >= 2 else None
            group = class_group_network(config, train, train_ids, seed, classes)
            seconds = time.perf_counter() - start
            row = [str(seed), asked, f"{classes}" + (f" ({chosen} chosen)" if chosen != classes else "")]
            for name in ("test", "training"):
                dataset, users, groups, histories = sets[name]
                x = platform_points(embeddings(group, dataset.vectors, histories))
                # As the platform (choose-k.ts's largestK): up to the classes' count where it is above k-max.
                k, labels, silhouettes = chosen_k(x, min(max(args.k_max, classes), len(users) - 1))
                if name == "test":
                    # A world of one group has no "true k" to cluster at: the column reads "-" there.
                    at_true = adjusted_rand_index(kmeans(x, k_true), groups) if k_true > 1 else None
                    if at_true is not None:
                        by_asked[asked].append(at_true)
                    row += ["-" if at_true is None else f"{at_true:.3f}", str(k), f"{adjusted_rand_index(labels, groups):.3f}",
                            f"{silhouettes[k]:.3f}"]
                else:
                    row += [str(k), f"{adjusted_rand_index(labels, groups):.3f}",
                            "-" if found is None else f"{adjusted_rand_index(kmeans(x, found), groups):.3f}"]
            print("| " + " | ".join(row + [f"{seconds:.1f}"]) + " |", flush=True)
    if k_true <= 1:
        print("\n(one group: no ARI at the true k, so no means or differences of it)")
    for asked, values in by_asked.items():
        if values:
            print(f"| mean | {asked} | | {np.mean(values):.3f} | | | | | | | |")
    first = counts[0]
    for asked in counts[1:] if k_true > 1 else []:
        difference = np.array(by_asked[first]) - np.array(by_asked[asked])
        spread = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else float("nan")
        print(f"| {first} - {asked} | | | {difference.mean():+.3f} ± {spread:.3f} | | | | | | | |")
    print(f"\ncommand: npm run bench:class-count -- --world {args.world} --counts {args.counts} --seeds {args.seeds} --k-max {args.k_max}"
          + (f" --folds {args.folds}" if args.folds != 2 else ""))


if __name__ == "__main__":
    main()
