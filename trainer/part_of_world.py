"""Part of a training set, for what a tenant's model meets night after night (issue 14, sessions 40-41).

python3 -m trainer.part_of_world --data DIR --out DIR (--users N [--seed S] | --earlier SHARE)

--users N: the first N users after `random.Random(S).shuffle(sorted(user ids))` (S default 40),
all their rows: the tenant before the users who have not come yet.
--earlier SHARE: every user, each with their first round(SHARE x n) of their n rows sorted by
(timestamp, row): the tenant before its users' later likes.

The items (items.csv, items.npy) are copied whole, so a model trained on the part scores the
whole world's test users. users.csv, where there is one, keeps the kept users' rows.
"""
import argparse
import csv
import os
import random
import shutil
from collections import defaultdict


def read_rows(path):
    """(header, rows) of a CSV file."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def first_users(rows, count: int, seed: int):
    """The ids of the first `count` users of `rows` (user id first) after a seeded shuffle of
    the sorted ids."""
    users = sorted({r[0] for r in rows})
    if not 0 < count <= len(users):
        raise SystemExit(f"--users: expected 1 to {len(users)} (the users in interactions.csv), got {count}")
    random.Random(seed).shuffle(users)
    return set(users[:count])


def earlier_rows(rows, share: float, ts_column: int):
    """The indices of each user's first round(share x n) rows by (timestamp, row); an empty
    timestamp is 0, as CONTRACTS.md section 1 says."""
    by_user = defaultdict(list)
    for i, r in enumerate(rows):
        by_user[r[0]].append((int(r[ts_column] or 0), i))
    kept = set()
    for own in by_user.values():
        own.sort()
        kept.update(i for _, i in own[:round(share * len(own))])
    return kept


def main(argv=None):
    parser = argparse.ArgumentParser(description="Part of a training set: some of its users, or each user's earlier rows")
    parser.add_argument("--data", required=True, help="a dataset directory (CONTRACTS.md section 1), e.g. W/train")
    parser.add_argument("--out", required=True, help="the directory to write the part to")
    part = parser.add_mutually_exclusive_group(required=True)
    part.add_argument("--users", type=int, help="keep this many users, drawn by --seed")
    part.add_argument("--earlier", type=float, metavar="SHARE", help="keep each user's earliest SHARE of their rows")
    parser.add_argument("--seed", type=int, default=40, help="with --users: the shuffle's seed (default 40, session 40's)")
    args = parser.parse_args(argv)
    if args.earlier is not None and not 0 < args.earlier < 1:
        parser.error(f"--earlier: expected a share between 0 and 1, got {args.earlier}")
    header, rows = read_rows(os.path.join(args.data, "interactions.csv"))
    if args.users is not None:
        users = first_users(rows, args.users, args.seed)
        kept_rows = [r for r in rows if r[0] in users]
    else:
        kept = earlier_rows(rows, args.earlier, header.index("ts"))
        kept_rows = [r for i, r in enumerate(rows) if i in kept]
        users = {r[0] for r in kept_rows}
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.data):
        if name.startswith("items."):
            shutil.copy(os.path.join(args.data, name), args.out)
    write_rows(os.path.join(args.out, "interactions.csv"), header, kept_rows)
    users_csv = os.path.join(args.data, "users.csv")
    if os.path.exists(users_csv):
        user_header, user_rows = read_rows(users_csv)
        write_rows(os.path.join(args.out, "users.csv"), user_header, [r for r in user_rows if r[0] in users])
    print(f"wrote {args.out}: {len(users)} users, {len(kept_rows)} of {len(rows)} rows")


if __name__ == "__main__":
    main()
