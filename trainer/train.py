"""Trains the preference model on a dataset directory; writes model.onnx, ckpt.pt, metrics.json.

python3 -m trainer.train --data DIR --out DIR [--init CKPT] [--epochs N] [--seed S]
                         [--loss all|base] [--tokens 10] [--device cpu|cuda]
                         [--max-episodes N] [--min-episodes N] [--group-episodes N] [--group-epochs E] [--group-start fresh|scoring] [--group-keep validated|last] [--group-from network|classes] [--val-share auto|S] [--ensemble off|auto|W] [--select-window K]
                         [--average-epochs E] [--patience P] [--networks K] [--item-rates off|auto|crossfit]
                         [--crossfit-networks K] [--crossfit-epochs E] [--co-likes off|auto] [--latent-classes off|auto]
                         [--choice-prior off|auto] [--progress]

Reads top to bottom: configuration, data and the validation split, model (or warm start),
then epochs of episodes with L_all = L_base + L_CP (or L_base alone), keeping the weights that
score best on the held-out validation users under EVAL-1 (an epoch's accuracy, or with
--select-window its mean with the epochs before; with --average-epochs the moving average of
the weights is what is validated and kept; with --patience P a network stops once P epochs in a
row have not beaten the epoch kept; with --networks K, K networks each so and their
logits averaged; with --group-episodes N, where an epoch draws fewer than N, a taste-group
network of N an epoch whose tokens give the user embedding; with --group-from classes, EM's latent
classes as an untrained one's tokens), then (with --ensemble) the per-user regression averaged in at the weight the
validation users choose, then (with --item-rates) the remembered items' like rates added (with
crossfit, weighted by networks trained on part of the users and scoring the rest), then (with
--co-likes) each candidate's co-likes with the history, then (with --latent-classes) the log-odds
of latent classes of users fitted by EM, each at the weight the validation users choose, then (with
--choice-prior, where users made choices) the global pairwise preference judged against
look-alikes, at the weight the validation users choose, then (with a taste-group network) its
tokens as the user embedding, then export.
"""
import argparse
import copy
import dataclasses
import datetime
import json
import os
import sys
import time
from contextlib import nullcontext

# Where OpenBLAS falls back to kernels without AVX2 on a CPU it does not know, train on the ones the
# CPU supports: the 64,000-user world's training loop took 0.6 of the time (trainer/kernels.py). It
# starts the trainer again, so it comes before torch is imported rather than import it twice.
from .kernels import cpu_kernels, fit_openblas_kernels
fit_openblas_kernels()

import numpy as np  # noqa: E402 (after the kernels are fitted, above)
import torch  # noqa: E402

from .data import (HISTORY_DRAWS, choose_history_size, collate, eval_users, first_slots, parse_val_share, read_dataset, sample_episode,
                   subset, val_share_for, validation_split, without_history)
from .evaluate import evaluate, model_scorer
from .export import export_onnx, metadata_for
from .model import ModelConfig, PreferenceModel, base_loss, contrastive_list_loss, contrastive_loss
from .compare import global_weights_sampled
from .ensemble import attach_regression, choose_weight, fit_regression, weight_users
from .choice_prior import add_choice_prior
from .co_likes import add_co_likes
from .served_latent_classes import add_latent_classes
from .item_rates import MAX_WEIGHT, add_item_rates
from .class_count import MIN_CLASSES, class_count_for_run
from .group_network import FROM_CLASSES, WithGroupNetwork, class_group_network, group_config
from .network_average import NetworkAverage, build_model, members_of
from .schedule import one_cycle
from .rate_crossfit import FOLDS, REJECT_Z, carried_verdict, folds_of, held_out_margins, rejects_rule, weight_beside_rule
from .token_init import class_tastes, set_token_tastes
from .weight_average import WeightAverage
from .precision import SETTINGS, chosen_autocast, emulation_warning, float32_layer_norms, forward_autocast
from .vector_noise import VectorNoise

# ------------------------------------------------------------------------- configuration
parser = argparse.ArgumentParser(description="Train the tastegraph preference model")
parser.add_argument("--data", required=True, help="dataset directory (CONTRACTS.md section 1)")
parser.add_argument("--out", required=True, help="output directory")
parser.add_argument("--init", help="checkpoint to warm-start from (fine-tuning)")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--loss", choices=["all", "base"], default="all", help="all = L_base + L_CP; base = L_base only")
parser.add_argument("--tokens", type=int, default=10, help="preference tokens L_p (0 = no P_v)")
parser.add_argument("--token-init", choices=["random", "classes"], default="random",
                    help="random: the preference tokens' tastes start random; classes: they start as EM's latent classes "
                         "(trainer/latent_classes.py, one per token) fitted on the users the network trains on "
                         "(trainer/token_init.py)")
parser.add_argument("--cp-form", choices=["pairs", "list"], default="pairs",
                    help="pairs: L_CP over each episode's target pairs (the paper's); list: each target like against "
                         "every target dislike of its episode at once, and each dislike against every like (a softmax; "
                         "model.contrastive_list_loss)")
parser.add_argument("--cp-weight", type=float, default=1.0, help="weight of L_CP in the loss (L_base + w (L+ + L-)); the paper's is 1")
parser.add_argument("--global-floor", action="store_true",
                    help="a global scorer (started from the logistic regression on the training labels) as the floor, "
                         "the personal terms gated by history size")
parser.add_argument("--user-fit", type=int, default=0, metavar="STEPS",
                    help="also fit each user's own regression on the history in the model, in STEPS gradient steps "
                         "(0 = no), started from the training labels' logistic regression")
parser.add_argument("--token-attention", choices=["joint", "cross"], default="joint",
                    help="joint: tokens and history attend to each other; cross: the paper's, history queries, tokens keys and values")
parser.add_argument("--ensemble", default="off", metavar="off|auto|W",
                    help="after training, average the model's log-odds with the per-user regression's (trainer/ensemble.py): "
                         "auto = the weight estimated from the validation users' pairs, W = this weight in [0, 1], off = the network alone")
parser.add_argument("--item-rates", choices=["off", "auto", "crossfit"], default="off",
                    help="after training (and any --ensemble), add to the model's log-odds each remembered item's like rate among "
                         "the training users, weighted by what it says beyond the item's vector (auto; trainer/item_rates.py) or "
                         "beyond the model's log-odds on users it never trained on where those reject the auto weight by 2 SE "
                         "(crossfit: trains --crossfit-networks more networks, each on half the training users, which score "
                         "the other half; trainer/rate_crossfit.py); off = vectors only")
parser.add_argument("--crossfit-networks", type=int, default=None, metavar="K",
                    help="with --item-rates crossfit: how many of the folds get a network, which scores its fold's users "
                         "(1 or 2; default 2: every training user is scored). One halves the extra training. Without "
                         "crossfit it is unused, so a later --item-rates off or auto overrides the lot")
parser.add_argument("--crossfit-epochs", type=int, default=None, metavar="E",
                    help="with --item-rates crossfit: the fold networks' epochs (their whole learning-rate schedule; default "
                         "--epochs; unused without crossfit). A network cut short is weaker and leaves the rate more to say")
parser.add_argument("--crossfit-carry", action="store_true",
                    help="with --init and --item-rates crossfit: train no fold network and carry the --init checkpoint's "
                         "cross-fit instead (its held-out beta where it rejected the rule's, else the rule's beta on this "
                         "run's users), while this run's training users and their rows are each within 1.5x of that "
                         "cross-fit's (rate_crossfit.CARRY_GROWTH); otherwise, or where the checkpoint records no "
                         "cross-fit, it cross-fits afresh. For a tenant's fine-tune of its own model: another tenant's "
                         "checkpoint says nothing of this one's items")
parser.add_argument("--co-likes", choices=["off", "auto"], default="off",
                    help="after the item rates, where training users rated the same items: add to the model's log-odds each "
                         "candidate's co-likes with the history (item-based collaborative filtering by item id), it and the "
                         "model weighted on the validation users' comparisons, and added only where they show it helps "
                         "(trainer/co_likes.py)")
parser.add_argument("--latent-classes", choices=["off", "auto"], default="off",
                    help="after the co-likes: fit K latent classes of users by EM on the training users (each a logistic "
                         "regression over item vectors, K chosen on them) and add the log-odds of their mixture, the classes "
                         "weighed by the history; it and the model weighted on the validation users' comparisons, and added "
                         "only where they show it helps (trainer/served_latent_classes.py)")
parser.add_argument("--choice-prior", choices=["off", "auto"], default="off",
                    help="last, where the training users chose between two images: add to the model's log-odds the global "
                         "pairwise preference (Bradley-Terry on their choices) less its mean over each image's look-alikes, "
                         "it and the model weighted on the validation users' comparisons, and added only where they show it "
                         "helps (trainer/choice_prior.py)")
parser.add_argument("--width", type=int, default=64)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--dropout", type=float, default=0.1)
parser.add_argument("--weight-decay", type=float, default=0.01, help="AdamW's decoupled weight decay")
parser.add_argument("--n-ref", type=int, default=16, help="largest history per kind in training episodes")
parser.add_argument("--history-draw", choices=list(HISTORY_DRAWS), default="uniform",
                    help="how an episode's history size (1 to --n-ref of each kind, as many as the user has) is drawn: "
                         "uniform, larger (the larger of two uniform draws: the sizes serving reads come most often) or smaller "
                         "(the smaller of two: more targets an episode)")
parser.add_argument("--episodes-per-user", type=int, default=8)
parser.add_argument("--temporal-share", type=float, default=0.0,
                    help="share of episodes cut in time (history before, targets after) instead of drawn at random")
parser.add_argument("--cold-share", type=float, default=0.0, metavar="SHARE",
                    help="share of episodes whose history is withheld (targets read with no history, as the API scores a "
                         "user before their first like); 0 = every episode reads a history")
parser.add_argument("--pairs", type=int, default=8, help="target pairs per episode")
parser.add_argument("--hard-negatives", type=float, default=0.0, metavar="SHARE",
                    help="share of episodes whose likes are each paired with the most similar dislike among the targets, "
                         "instead of at random (where --prompt-pairs gives an episode no pair of its own)")
parser.add_argument("--prompt-pairs", type=float, default=0.0, metavar="SHARE",
                    help="share of episodes whose target pairs are the user's own choices between two images for one prompt, "
                         "where the user has any left after the history (0 = likes and dislikes paired at random)")
parser.add_argument("--choices-as-choices", action="store_true",
                    help="train on a user's choices between two images for one prompt as choices: L_CP alone compares a "
                         "choice's two images, L_base classifies single images only (data.episode_with_choices_apart); "
                         "without it a choice's loser is classified as a dislike of its own")
parser.add_argument("--batch", type=int, default=128)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--init-lr", type=float, default=None, metavar="LR",
                    help="with --init: the warm-started network's largest learning rate (default --lr); a fine-tune's "
                         "one-cycle schedule climbs to it again from the trained weights. The cross-fit's fold networks "
                         "start fresh and keep --lr")
parser.add_argument("--val-share", type=parse_val_share, default=None, metavar="auto|S",
                    help="share of users held out for validation (default auto: 10%%, and where that would leave more "
                         "than 22,400 to train on, the users beyond 22,400, up to 30%%: data.auto_val_share)")
parser.add_argument("--select-window", type=int, default=1, metavar="K",
                    help="keep the epoch whose validation pairwise accuracy, averaged with the K - 1 epochs before it, is best "
                         "(1: the best single epoch); a wider window chases less of the noise of few validation pairs")
parser.add_argument("--average-epochs", type=float, default=0.0, metavar="E",
                    help="validate and keep a moving average of the weights over about the last E epochs instead of "
                         "the weights themselves (trainer/weight_average.py; 0 = off)")
parser.add_argument("--patience", type=int, default=0, metavar="P",
                    help="stop a network's training once P epochs in a row have not beaten the epoch kept (0 = run every "
                         "epoch); the epochs until then train exactly as without it, so the kept weights are the same "
                         "whenever no later epoch would have beaten them")
parser.add_argument("--networks", type=int, default=None, metavar="K",
                    help="train K networks apart (seeds S, S + 1000, ...; one validation split) and serve the average of "
                         "their logits (trainer/network_average.py; default 1; a warm start keeps its checkpoint's count)")
parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu",
                    help="where the networks train (default: cuda when torch sees a GPU); the parts fitted after "
                         "training and the export run on the CPU either way")
parser.add_argument("--autocast", choices=SETTINGS, default="off",
                    help="bf16: the networks' forward passes in bfloat16 while they train (weights, gradients and the "
                         "loss stay float32; trainer/precision.py); auto: bf16 on a CPU with native bfloat16 "
                         "(avx512_bf16 or AMX), off elsewhere")
parser.add_argument("--threads", type=int, default=1,
                    help="CPU threads; this model's ops are small, and one thread measured 2.3x faster than two here")
parser.add_argument("--max-episodes", type=int, default=0,
                    help="at most this many episodes per epoch (fewer per user for large tenants; 0 = no cap)")
parser.add_argument("--min-episodes", type=int, default=0,
                    help="at least this many episodes per epoch (more per user for small tenants, whose preference "
                         "tokens otherwise stay half-formed; 0 = episodes-per-user alone)")
parser.add_argument("--group-episodes", type=int, default=0, metavar="N",
                    help="where an epoch draws fewer than N episodes (a small tenant), a second network, the taste-group "
                         "network, trains at least N an epoch (as --min-episodes N would) and the served user embedding "
                         "is its tokens', the scores staying the first network's (trainer/group_network.py); 0 = off")
parser.add_argument("--group-from", choices=["network", "classes"], default="network",
                    help="where the served user embedding (taste groups, similar users) comes from: network (the "
                         "scoring network's tokens, or a taste-group network's with --group-episodes) or classes (EM's "
                         "latent classes fitted on the training users as an untrained taste-group network's tokens, one "
                         "class per token, for every tenant: trainer/group_network.py's class_group_network)")
parser.add_argument("--group-classes", default=None, metavar="auto|K",
                    help="with --group-from classes, how many latent classes (default auto): the count whose classes, "
                         "fitted on half the training users, best explain the other half's labels (trainer/class_count.py; "
                         f"at least {MIN_CLASSES} are served: fewer merge groups), or K, 2 up to --width")
parser.add_argument("--group-epochs", type=int, default=0, metavar="E",
                    help="epochs of the taste-group network (default --epochs)")
parser.add_argument("--group-start", choices=["fresh", "scoring"], default="fresh",
                    help="where a first taste-group network starts: fresh (where the scoring network starts: --seed, "
                         "or the --init checkpoint's scoring network) or scoring (a copy of this run's kept scoring "
                         "network, which has drawn its own episodes already). A warm start whose checkpoint has a "
                         "taste-group network continues that one either way, unless --init-group-network drop")
parser.add_argument("--init-group-network", choices=["continue", "drop"], default="continue",
                    help="what a warm start does with its --init checkpoint's taste-group network: continue it (a "
                         "tenant's fine-tune of its own model), or drop it and start a first one as --group-start "
                         "says (a tenant's first model from the shipped base model, whose groups are another world's)")
parser.add_argument("--group-keep", choices=["validated", "last"], default="validated",
                    help="which epoch of the taste-group network is kept: the one validation scores best, as for "
                         "the scoring network, or the last (its tokens are what it is for; validation pairwise, "
                         "which the scoring network serves, kept a scoring start's first epoch)")
parser.add_argument("--vector-noise", type=float, default=0.0, metavar="S",
                    help="add Gaussian noise of S times the item vectors' spread to every vector a network trains on "
                         "(trainer/vector_noise.py; 0 = off); validation and the export see them as they are")
parser.add_argument("--progress", action="store_true",
                    help='print one JSON line per epoch, {"progress": {...}}, for the job that runs the trainer')
parser.add_argument("--quiet", action="store_true")
args = parser.parse_args()
autocast = chosen_autocast(args.autocast, args.device)


def warn(*parts):
    """Says on stderr, even with --quiet, what the one who reads a nightly's log must know of a run
    that still succeeds (the job that runs the trainer logs its stderr: trainer-process.ts)."""
    print(*parts, file=sys.stderr, flush=True)


# A forced bf16 on such a CPU costs more than it was asked to save.
emulation = emulation_warning(autocast, args.device)
if emulation:
    warn(emulation)
if args.select_window < 1:
    parser.error(f"--select-window: expected an integer of at least 1, got {args.select_window}")
for flag, share in (("--prompt-pairs", args.prompt_pairs), ("--hard-negatives", args.hard_negatives), ("--cold-share", args.cold_share)):
    if not 0.0 <= share <= 1.0:
        parser.error(f"{flag}: expected a share in [0, 1], got {share}")
# Both choose an episode's target pairs; --cold-share withholds its history and goes with either.
for flag, share in (("--prompt-pairs", args.prompt_pairs), ("--hard-negatives", args.hard_negatives)):
    if share and args.choices_as_choices:
        parser.error(f"{flag}: --choices-as-choices chooses every episode's target pairs; drop one of the two")
if args.choices_as_choices and args.loss == "base":
    parser.error("--choices-as-choices: a choice is trained by L_CP, which --loss base leaves out; use --loss all")
if args.token_init == "classes" and not args.tokens:
    parser.error("--token-init classes: the classes start the preference tokens' tastes, and --tokens 0 leaves none")
if args.init_lr is not None and not args.init:
    parser.error("--init-lr: the learning rate of a warm start; without --init every network starts fresh at --lr")
if args.crossfit_carry and not args.init:
    parser.error("--crossfit-carry: carries the --init checkpoint's cross-fit; without --init there is none")
if args.init_group_network == "drop" and not args.init:
    parser.error("--init-group-network drop: drops the --init checkpoint's taste-group network; without --init there is none")
if args.init_lr is not None and args.init_lr <= 0:
    parser.error(f"--init-lr: must be above 0, got {args.init_lr}")
if args.token_init == "classes" and args.init:
    parser.error("--token-init classes: --init starts from a trained checkpoint's tokens; drop one of the two")
if args.group_episodes < 0:
    parser.error(f"--group-episodes: expected 0 (off) or a number of episodes, got {args.group_episodes}")
if args.group_from == "classes" and args.group_episodes:
    parser.error("--group-from classes: the classes are the taste-group network, untrained; --group-episodes trains one "
                 "from the scoring network instead, so drop one of the two")
group_classes = None   # --group-classes auto
if args.group_classes is not None:
    if args.group_from != "classes":
        parser.error("--group-classes: the count of latent classes applies with --group-from classes alone")
    if args.group_classes != "auto":
        try:
            group_classes = int(args.group_classes)
        except ValueError:
            group_classes = 0
        if group_classes < 2:
            parser.error(f"--group-classes: expected auto or a whole number of classes of at least 2, got {args.group_classes}")
if args.group_epochs < 0:
    parser.error(f"--group-epochs: expected 0 (--epochs) or a number of epochs, got {args.group_epochs}")
if args.vector_noise < 0:
    parser.error(f"--vector-noise: expected a share of the vectors' spread of at least 0 (0 = off), got {args.vector_noise}")
if args.patience < 0:
    parser.error(f"--patience: expected 0 (off) or a number of epochs, got {args.patience}")
if args.networks is not None and args.networks < 1:
    parser.error(f"--networks: expected at least 1, got {args.networks}")
if args.crossfit_epochs is not None and args.crossfit_epochs < 1:
    parser.error(f"--crossfit-epochs: expected at least 1, got {args.crossfit_epochs}")
if args.crossfit_networks is not None and not 1 <= args.crossfit_networks <= FOLDS:
    parser.error(f"--crossfit-networks: expected 1 to {FOLDS}, got {args.crossfit_networks}")
if args.average_epochs < 0:
    parser.error(f"--average-epochs: expected a span of epochs of at least 0, got {args.average_epochs}")
if args.ensemble not in ("off", "auto"):
    try:
        args.ensemble = float(args.ensemble)
    except ValueError:
        parser.error(f"--ensemble: expected off, auto or a weight in [0, 1], got {args.ensemble!r}")
    if not 0.0 <= args.ensemble <= 1.0:
        parser.error(f"--ensemble: expected a weight in [0, 1], got {args.ensemble}")
if args.device == "cuda" and not torch.cuda.is_available():
    parser.error(f"--device cuda: this torch ({torch.__version__}) sees no CUDA device; leave --device out to train on the CPU")
if args.ensemble != "off" and args.user_fit:
    parser.error("--ensemble and --user-fit: the model can fit the user's regression inside or average with it, not both")

# A trainer whose parent (the job that runs it) died would train on for nobody: it stops instead.
parent_pid = os.getppid()

torch.manual_seed(args.seed)
torch.set_num_threads(args.threads)
os.makedirs(args.out, exist_ok=True)
log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))


def progress(**fields):
    if args.progress:
        print(json.dumps({"progress": fields}), flush=True)


# ------------------------------------------------------------ data and validation users
dataset = read_dataset(args.data)
# EVAL-1(n) with the contract's rule for a tenant: the largest of 8, 4, 2 that evaluates 50 users.
train_ids, val_ids, val_n, val_users = validation_split(dataset, args.val_share, args.seed)
# What --val-share auto came to for this tenant (data.auto_val_share), or the share given.
val_share = val_share_for(len(dataset.users), args.val_share)


def episodes_per_user_for(least):
    """Episodes per training user an epoch: --episodes-per-user, raised to at least `least` an
    epoch, then held to --max-episodes an epoch."""
    n = args.episodes_per_user
    if least and train_ids:
        n = max(n, -(-least // len(train_ids)))
    if args.max_episodes and train_ids:
        n = max(1, min(n, -(-args.max_episodes // len(train_ids))))
    return n


episodes_per_user = episodes_per_user_for(args.min_episodes)
# --group-episodes: the taste-group network draws what --min-episodes N would have the scoring
# network draw; it trains only where that is more than the scoring network draws.
group_episodes_per_user = max(episodes_per_user, episodes_per_user_for(args.group_episodes))
log(f"data: {len(dataset.item_ids)} items of dim {dataset.dim}, {len(train_ids)} training users, "
    f"{len(val_ids)} validation users ({val_share:.0%}{', auto' if args.val_share is None else ''}; {len(val_users)} with an "
    f"EVAL-1({val_n}) history); {episodes_per_user} episodes per user")

# ------------------------------------------------------------------------------- model
# Each network starts from the warm start's weights, or fresh from its own seed: the first
# network from --seed itself (so --networks 1 is the single-network run), network k from
# --seed + 1000 k (so no network of one seed repeats one of another seed).
warm_group_state = None   # the --init checkpoint's taste-group network, where it has one
if args.init:
    checkpoint = torch.load(args.init, map_location="cpu")
    config = ModelConfig(**checkpoint["config"])
    if config.embedding_dim != dataset.dim:
        raise SystemExit(f"--init: checkpoint expects item vectors of dim {config.embedding_dim}, data has {dataset.dim}")
    if args.networks not in (None, config.networks):
        # As with its token attention, a warm start keeps its checkpoint's design: the nightly
        # run passes the same flags to fresh and warm runs.
        log(f"--networks {args.networks}: the --init checkpoint averages {config.networks} network(s), and fine-tuning keeps that")
    state = checkpoint["state_dict"]
    # A checkpoint's taste-group network (group_network.py) fine-tunes beside the scoring network
    # where this run trains one, and is dropped where it does not, or where --init-group-network drop
    # says the checkpoint's groups are another world's (the shipped base model's).
    if config.group_network:
        continued = args.init_group_network == "continue"
        # A continued taste-group network keeps its token count (group_tokens); else it is forgotten.
        config = dataclasses.replace(config, group_network=False, group_tokens=config.group_tokens if continued else 0)
        if continued:
            warm_group_state = {k[len("group."):]: v for k, v in state.items() if k.startswith("group.")}
        state = {k[len("inner."):]: v for k, v in state.items() if k.startswith("inner.")}
    if config.choice_memory:
        # The choice prior is fitted again on this run's choices, last.
        config = dataclasses.replace(config, choice_memory=0, choice_weight=0.0, choice_scale=1.0)
        state = {k[len("inner."):]: v for k, v in state.items() if k.startswith("inner.")}
    if config.latent_class_count:
        # The classes are fitted again on this run's training users (after the co-likes).
        config = dataclasses.replace(config, latent_class_count=0, latent_class_weight=0.0, latent_class_scale=1.0)
        state = {k[len("inner."):]: v for k, v in state.items() if k.startswith("inner.")}
    if config.co_like_memory:
        # The co-likes are counted again from this run's training users (after the rates).
        config = dataclasses.replace(config, co_like_memory=0, co_like_weight=0.0, co_like_scale=1.0, co_like_rank=0)
        state = {k[len("inner."):]: v for k, v in state.items() if k.startswith("inner.")}
    if config.item_memory:
        # The items' rates are counted again from this run's training users (after the regression).
        config = dataclasses.replace(config, item_memory=0, item_rate_weight=0.0)
        state = {k[len("inner."):]: v for k, v in state.items() if k.startswith("inner.")}
    if config.regression_weight:
        # An ensemble: the networks alone are fine-tuned; the regression is attached again after.
        config = ModelConfig(**{**config.to_dict(), "user_fit_steps": 0, "regression_weight": 0.0})
        state = {k: v for k, v in state.items() if not any(part.startswith("fit_") for part in k.split("."))}
    if args.ensemble != "off" and config.user_fit_steps:
        raise SystemExit("--ensemble: the --init checkpoint fits the user's regression inside (--user-fit); it cannot also average with it")
    warm = build_model(config)
    warm.load_state_dict(state)
    config = dataclasses.replace(config, networks=1)
    log(f"warm start from {args.init}")
else:
    config = ModelConfig(embedding_dim=dataset.dim, width=args.width, encoder_layers=args.layers, preference_tokens=args.tokens,
                         dropout=args.dropout, global_floor=args.global_floor, user_fit_steps=args.user_fit,
                         token_attention=args.token_attention)


# One network's design: `config` describes what is served, and grows parts after training.
network_config = config
for flag, asked in (("--group-episodes", args.group_episodes), ("--group-from classes", args.group_from == "classes")):
    if asked and not network_config.preference_tokens:
        parser.error(f"{flag}: the taste-group network's user embedding is its preference tokens; "
                     + ("the --init checkpoint has none" if args.init else "--tokens 0 has none"))
if group_classes is not None and group_classes > network_config.width:
    parser.error(f"--group-classes: the taste-group network holds at most its width, {network_config.width}, classes; "
                 f"got {group_classes}")


# --token-init classes: EM's classes by the users they were fitted on, fitted once for all the
# networks of --networks K that train on the same users.
classes_fitted = {}


def fresh_network(k, users=None):
    """A new network for run k, to be trained on `users` (default: every training user)."""
    torch.manual_seed(args.seed + 1000 * k)
    network = PreferenceModel(network_config)
    if args.token_init == "classes":
        # Fitted on the users this network trains on: a cross-fit network must not see its fold.
        key = tuple(train_ids if users is None else users)
        if key not in classes_fitted:
            classes_fitted[key] = class_tastes(dataset, list(key), network_config.preference_tokens, args.seed)
        set_token_tastes(network, classes_fitted[key])
    if network_config.global_floor or network_config.user_fit_steps:
        # Fitted on the training users' labels only (never the validation users'), at most
        # GLOBAL_FIT_ROWS of them, as the promotion gate's global baseline is.
        w = global_weights_sampled(subset(dataset, train_ids), args.seed)
        with torch.no_grad():
            for scorer in (network.global_score, network.fit_prior):
                if scorer is not None:
                    scorer.weight.copy_(torch.from_numpy(w[:-1]).float().unsqueeze(0))
                    scorer.bias.fill_(float(w[-1]))
    return network


starts = ([lambda k, network=network: network for network in members_of(warm)] if args.init
          else [fresh_network] * (args.networks or 1))
# --group-episodes: the taste-group network trains where it draws more than the scoring network,
# after the scoring networks and before any cross-fit's, from the --init checkpoint's own where it
# has one, else where the first scoring network starts: fresh from --seed, so it trains the weights
# a run with --min-episodes N trains, or a copy of the warm start taken before that trains.
# With --group-start scoring a first taste-group network starts from the first scoring network's
# kept weights instead, so that its tokens build on the episodes that network drew.
group_runs = 1 if group_episodes_per_user > episodes_per_user else 0
group_epochs = args.group_epochs or args.epochs
if not group_runs:
    group_start = None
elif warm_group_state is None and args.group_start == "scoring":
    group_start = lambda: copy.deepcopy(trained[0][0])
elif not args.init:
    group_start = lambda: fresh_network(0)
elif warm_group_state is not None:
    def group_start():
        network = PreferenceModel(group_config(network_config))
        network.load_state_dict(warm_group_state)
        return network
else:
    warm_copy = copy.deepcopy(members_of(warm)[0])
    group_start = lambda: warm_copy
# The training users' rows, which the rates are counted from; a cross-fit records them.
train_rows = sum(len(dataset.users[u]) for u in train_ids)
# With --crossfit-carry, the --init checkpoint's cross-fit where it can be carried
# (rate_crossfit.carried_verdict): its held-out beta (None: the rule's), its record (None: not
# carried) and why.
carried_beta, carried_record, carry_why = (
    carried_verdict(checkpoint.get("metrics", {}).get("item_rates"), len(train_ids), train_rows)
    if args.crossfit_carry and args.item_rates == "crossfit" else (None, None, None))
if carry_why:
    log(f"--crossfit-carry: {'carrying ' if carried_record else 'cross-fitting afresh: '}{carry_why}")
# With --item-rates crossfit, --crossfit-networks more networks (default FOLDS) train after these
# (cross_fitted_rate_weight) unless a cross-fit is carried; progress counts their epochs too.
fold_networks = (args.crossfit_networks or FOLDS) if args.item_rates == "crossfit" and not carried_record else 0
fold_epochs = args.crossfit_epochs or args.epochs
total_epochs = len(starts) * args.epochs + group_runs * group_epochs + fold_networks * fold_epochs
runs = len(starts) + group_runs + fold_networks
vectors = dataset.vectors
# One generator for every network of the run, in the order they train, apart from the episodes' draws.
vector_noise = VectorNoise(vectors, args.vector_noise, args.seed + 7)
# Cosine similarity for --hard-negatives is a product of unit rows.
unit_vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12) if args.hard_negatives else None
# epoch_seconds: each epoch's training loop, every network's in the order trained (their sum is
# the training time), so a bench can leave out the first (a GPU's warm-up) and take a steady epoch's.
totals = {"episodes": 0, "epoch_seconds": []}


# ------------------------------------------------------------------------------ train
def train_network(model, rng, k, users, named="", epochs=None, epochs_before=None, per_user=None, warm=None, keep_last=False):
    """Trains a network on `users` for `epochs` (default --epochs), `per_user` episodes per user an
    epoch (default the scoring network's), as run k of `runs`; (its kept weights, the figures of the
    epoch kept, each epoch's figures). Progress counts epochs over all the runs (`epochs_before`
    this one; default k x --epochs), so the job's view moves on from one to the next. `named`
    prefixes its log lines. A warm-started network trains at --init-lr: the runs before the fold
    networks' (k < len(starts)) are the --init checkpoint's networks where there is one, and `warm`
    says so for any other run. With `keep_last` the last epoch is kept whatever validation says
    (it is still validated and shown)."""
    epochs = epochs or args.epochs
    epochs_before = k * args.epochs if epochs_before is None else epochs_before
    per_user = per_user or episodes_per_user
    warm = (k < len(starts) and bool(args.init)) if warm is None else warm
    with float32_layer_norms(model, autocast == "bf16"):
        return train_epochs(model, rng, k, users, named, epochs, epochs_before, per_user, warm, keep_last)


def train_epochs(model, rng, k, users, named, epochs, epochs_before, per_user, warm, keep_last):
    """train_network's loop, its arguments resolved."""
    steps_per_epoch = max(1, len(users) * per_user // args.batch)
    lr = args.init_lr if args.init_lr is not None and warm else args.lr
    model.to(args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=args.weight_decay)
    scheduler = one_cycle(optimizer, lr, epochs * steps_per_epoch)
    average = WeightAverage(model, args.average_epochs, steps_per_epoch) if args.average_epochs else None
    history = []
    best = {"val_pairwise": -1.0}
    best_criterion, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        model.train()
        episodes = []
        for user in users:
            for _ in range(per_user):
                # Drawn only when asked for, so that runs without it train as they did.
                pairs_of_prompts = bool(args.prompt_pairs) and rng.random() < args.prompt_pairs
                hard = unit_vectors if args.hard_negatives and rng.random() < args.hard_negatives else None
                e = sample_episode(dataset.users[user], rng, args.n_ref, args.pairs, temporal=rng.random() < args.temporal_share,
                                   prompt_pairs=pairs_of_prompts, hard_negatives=hard, choices_as_choices=args.choices_as_choices,
                                   history_draw=args.history_draw)
                if e is not None and args.cold_share and rng.random() < args.cold_share:
                    e = without_history(e)
                if e is not None:
                    episodes.append(e)
        order = rng.permutation(len(episodes))
        started = time.perf_counter()
        losses = []
        for step in range(steps_per_epoch):
            batch = [episodes[i] for i in order[step * args.batch:(step + 1) * args.batch]]
            if not batch:
                break
            if os.getppid() != parent_pid:
                raise SystemExit("the process that started the trainer is gone: stopping")
            h, lab, mask, pos, neg, pair_mask, single_mask = (torch.from_numpy(x).to(args.device) for x in collate(batch, vectors))
            P = pos.shape[1]
            h, pos, neg = vector_noise(h, pos, neg)
            with forward_autocast(args.device, autocast):
                logits, _ = model(h, lab, mask, torch.cat([pos, neg], dim=1))
            logits = logits.float()
            logits_pos, logits_neg = logits[:, :P], logits[:, P:]
            loss = base_loss(logits_pos, logits_neg, single_mask)
            if args.loss == "all":
                if args.cp_form == "list":
                    like_first, dislike_first = (torch.from_numpy(x).to(args.device) for x in first_slots(batch, P))
                    cp = contrastive_list_loss(logits_pos, logits_neg, pair_mask, single_mask, like_first, dislike_first)
                else:
                    cp = contrastive_loss(logits_pos, logits_neg, pair_mask)
                loss = loss + args.cp_weight * cp
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update(model)
            losses.append(loss.item())
            totals["episodes"] += len(batch)
        if args.device == "cuda":
            torch.cuda.synchronize()
        totals["epoch_seconds"].append(time.perf_counter() - started)
        # Without validation users (no held-back user has 2 likes and 2 dislikes and a target of
        # each) there is nothing to select by: the last epoch is kept, and the figures say None
        # (null in metrics.json), never NaN, which is not JSON.
        # With --average-epochs the averaged weights are what is validated and kept.
        with (average.applied(model) if average is not None else nullcontext(model)) as candidate:
            val = evaluate(model_scorer(candidate, vectors, args.device), val_users) if val_users else None
        val_pairwise = None if val is None else float(val["pairwise"])
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_pairwise": val_pairwise})
        progress(epoch=epochs_before + epoch, epochs=total_epochs, loss=float(np.mean(losses)), val_pairwise=val_pairwise,
                 **({"network": k + 1} if runs > 1 else {}))
        shown = "none (no validation users)" if val is None else f"{val_pairwise:.2f}"
        log(f"{named}epoch {epoch:3d}  loss {np.mean(losses):.4f}  "
            f"val pairwise {shown}  ({totals['episodes'] / sum(totals['epoch_seconds']):.0f} episodes/s)")
        # The selection criterion: this epoch's validation accuracy, or its mean with the epochs before.
        window = [h["val_pairwise"] for h in history[-args.select_window:]]
        criterion = None if val is None else float(np.mean(window))
        if val is None or keep_last or criterion > best_criterion:
            best_criterion = criterion
            best = {"epoch": epoch, "val_pairwise": val_pairwise, "val_top1": None if val is None else val["top1"],
                    "val_users": 0 if val is None else val["users"], "val_history_size": val_n if val_users else None,
                    "selected_by": ("last epoch: no validation users" if val is None
                                    else "last epoch: --group-keep last" if keep_last
                                    else ("validation pairwise accuracy"
                                          + (f", averaged over epochs {epoch - len(window) + 1}-{epoch}" if args.select_window > 1 else "")))}
            # The weights just validated: the average does not move until the next step.
            best_state = average.state_dict() if average is not None else {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if args.patience and val is not None and epoch - best["epoch"] >= args.patience and epoch < epochs:
            # The learning-rate schedule still spans the run's epochs, so everything up to here trained as
            # a full run would have: only a later epoch that beat the kept one is given up.
            best["stopped_after"] = epoch
            log(f"{named}stopped after epoch {epoch}: {args.patience} epochs without beating epoch {best['epoch']}")
            progress(epoch=epochs_before + epochs, epochs=total_epochs, loss=float(np.mean(losses)), val_pairwise=val_pairwise,
                     **({"network": k + 1} if runs > 1 else {}))
            break
    model.load_state_dict(best_state)
    return model.cpu(), best, history


progress(epoch=0, epochs=total_epochs)
# The dropout the first network draws from here: the taste-group network draws it again, so it
# trains what a run with --min-episodes N trains, from a warm start too (whose building drew from
# the generator before this point).
dropout_at_start = torch.get_rng_state()
trained = [train_network(start(k), np.random.default_rng(args.seed + 1000 * k), k, train_ids,
                         f"network {k + 1}/{len(starts)} " if len(starts) > 1 else "")
           for k, start in enumerate(starts)]
if len(trained) == 1:
    model, best, history = trained[0]
else:
    # The average is validated as it will serve; each network's own kept epoch is in "networks".
    model = NetworkAverage.of([network for network, _, _ in trained])
    config = model.config
    val = evaluate(model_scorer(model, vectors), val_users) if val_users else None
    best = {"val_pairwise": None if val is None else float(val["pairwise"]), "val_top1": None if val is None else val["top1"],
            "val_users": 0 if val is None else val["users"], "val_history_size": val_n if val_users else None,
            "selected_by": f"the average of {len(trained)} networks, each at its own epoch by " + trained[0][1]["selected_by"],
            "networks": [{**b, "epochs": h} for _, b, h in trained]}
    history = trained[0][2]
    shown = [f"{b['val_pairwise']:.2f}" if b["val_pairwise"] is not None else "none" for b in [best, *(b for _, b, _ in trained)]]
    log(f"average of {len(trained)} networks: validation pairwise {shown[0]} (the networks: {', '.join(shown[1:])})")
group_network, group_record = None, None
if group_runs:
    torch.set_rng_state(dropout_at_start)
    group_network, group_best, _ = train_network(group_start(), np.random.default_rng(args.seed), len(starts), train_ids,
                                                 "taste-group network ", group_epochs, len(starts) * args.epochs,
                                                 per_user=group_episodes_per_user, warm=bool(args.init),
                                                 keep_last=args.group_keep == "last")
    group_record = {"episodes_per_user": group_episodes_per_user, "epoch": group_best.get("epoch"),
                    "val_pairwise": group_best["val_pairwise"], "selected_by": group_best["selected_by"],
                    "started_from": ("the --init checkpoint's taste-group network" if warm_group_state is not None
                                     else "this run's scoring network" if args.group_start == "scoring"
                                     else "the --init checkpoint's scoring network" if args.init else "fresh"),
                    "epochs": group_epochs,
                    "why": f"an epoch of the scoring network draws {episodes_per_user} episodes per user, fewer than "
                           f"--group-episodes {args.group_episodes} asks of {len(train_ids)} training users"}
    log(f"taste-group network: {group_episodes_per_user} episodes per user, epoch {group_best.get('epoch')} kept "
        f"(validation pairwise {group_best['val_pairwise']}); the served user embedding is its tokens'")
elif args.group_from == "classes":
    # Fitted on the training users alone, as every part is; a fine-tune fits them afresh, so its
    # --init checkpoint's taste-group network is never continued.
    fit_start = time.perf_counter()
    classes, chosen = class_count_for_run(dataset, train_ids, args.seed, network_config.width, group_classes)
    group_network = class_group_network(network_config, dataset, train_ids, args.seed, classes)
    group_record = {"started_from": FROM_CLASSES, "classes": classes, **chosen, "users": len(train_ids),
                    "fit_seconds": round(time.perf_counter() - fit_start, 2)}
    log(f"taste-group network: {classes} latent classes fitted on {len(train_ids)} training users in "
        f"{group_record['fit_seconds']} s ({chosen['chosen_by']}"
        + (f", {chosen['chosen']} chosen" if chosen["chosen"] not in (None, classes) else "")
        + ("; one class explains them best: their tastes differ too little to tell groups apart" if chosen["chosen"] == 1 else "")
        + "); the served user embedding is their mixture")
# ----------------------------------------------------------------------- save and export
ensemble = None
if args.ensemble != "off":
    # The regression's prior and pull come from the training users, its weight from the
    # validation users (without them, the even average): no part sees a validation user's labels.
    w_regression, shrink = fit_regression(subset(dataset, train_ids), args.seed)
    if val_users:
        weight_n, weighed_on = weight_users(dataset, train_ids, val_ids, val_n, val_users)
        weight, by_weight = choose_weight(model, w_regression, shrink, weighed_on, vectors,
                                          None if args.ensemble == "auto" else (args.ensemble,))
        ensemble = {"weight": weight, "shrink": shrink, "history_size": weight_n, "users": len(weighed_on),
                    "selected_by": (f"posterior mean from {len(weighed_on)} validation users' pairs, EVAL-1({weight_n})"
                                    if args.ensemble == "auto" else "--ensemble"),
                    "val_pairwise_by_weight": {str(w): round(r["pairwise"], 2) for w, r in by_weight.items()}}
    else:
        weight = 0.5 if args.ensemble == "auto" else args.ensemble
        ensemble = {"weight": weight, "shrink": shrink,
                    "selected_by": "the even average: no validation users" if args.ensemble == "auto" else "--ensemble"}
    model = attach_regression(model, w_regression, shrink, weight)
    config = model.config
    if val_users:
        # At the split's own EVAL-1(n), as the epoch's figures are; val_pairwise_by_weight is at
        # the n the weight was fitted at (history_size), so the two can differ.
        shown = evaluate(model_scorer(model, vectors), val_users)
        best.update(network_val_pairwise=best["val_pairwise"], val_pairwise=float(shown["pairwise"]), val_top1=shown["top1"])
    log(f"ensemble with the per-user regression (shrink {shrink}): weight {weight} ({ensemble['selected_by']})"
        + (f"; validation pairwise by weight {ensemble['val_pairwise_by_weight']}" if "val_pairwise_by_weight" in ensemble else ""))


def cross_fitted_rate_weight(counts, prior_count, rows, beyond_vectors):
    """--item-rates crossfit (trainer/rate_crossfit.py): (beta, its record) from networks each
    trained on the training users outside one of FOLDS folds (--crossfit-networks of them) and
    made into the served model's kind (the regression at the served weight, fitted on those
    users), scoring the fold's users at the tenant's EVAL-1(n); their beta is served where their
    pairs reject the beta of --item-rates auto (`beyond_vectors`) by REJECT_Z standard errors
    (rate_crossfit.weight_beside_rule), else that one is. With --networks K, each fold has
    one network: it stands for the average. With --init, the fold networks start fresh, since the
    warm start has seen every user. Where no user of those folds has an EVAL-1(n) history and
    targets, nothing is trained and the beta of --item-rates auto (`beyond_vectors`) is kept."""
    n, _ = choose_history_size(subset(dataset, train_ids))
    folds = folds_of(train_ids, args.seed)[:fold_networks]
    fold_users = [eval_users(subset(dataset, held_out), n) for held_out in folds]
    if not any(fold_users):
        progress(epoch=total_epochs, epochs=total_epochs)
        return beyond_vectors, {"selected_by": f"as --item-rates auto: no training user has an EVAL-1({n}) history and targets "
                                               "to cross-fit on"}
    remembered = set(rows.tolist())
    margins, kept_epochs = [], []
    for f, (held_out, users) in enumerate(zip(folds, fold_users)):
        held = set(held_out)
        others = [u for u in train_ids if u not in held]
        k = len(starts) + group_runs + f
        # Seeds no network of any --seed or --networks uses (network k of a run uses seed + 1000 k).
        run_seed = args.seed + 1000 * (100 + f)
        network, kept, _ = train_network(fresh_network(100 + f, others), np.random.default_rng(run_seed), k, others,
                                         f"cross-fit {f + 1}/{fold_networks} ", fold_epochs,
                                         len(starts) * args.epochs + group_runs * group_epochs + f * fold_epochs)
        if ensemble is not None:
            w_fold, shrink_fold = fit_regression(subset(dataset, others), args.seed)
            network = attach_regression(network, w_fold, shrink_fold, ensemble["weight"])
        margins += held_out_margins(network, dataset, users, counts, prior_count, remembered)
        kept_epochs.append(kept.get("epoch"))
    served, beta, model_coefficient, rate_coefficient, departure = weight_beside_rule(margins, beyond_vectors, MAX_WEIGHT)
    scored = sum(len(users) for users in fold_users)
    held_out = (f"{scored} training users' EVAL-1({n}) pairs, each scored by a network trained without them "
                f"({fold_networks} of {FOLDS} folds)")
    shown = (f"the rate's coefficient over the model's on {held_out} is {beta}, {departure:+.2f} SE from the "
             f"--item-rates auto weight {beyond_vectors}")
    return served, {"selected_by": (shown if rejects_rule(departure) else f"as --item-rates auto, since {shown} "
                                    f"(within {REJECT_Z:g} SE)"),
                    # train_users and train_rows: what the served network and the rates were trained and
                    # counted on beside this cross-fit, which --crossfit-carry measures a later fine-tune's growth from.
                    "crossfit": {"folds": FOLDS, "networks": fold_networks, "epochs": fold_epochs, "history_size": n,
                                 "train_users": len(train_ids), "train_rows": train_rows,
                                 "users": scored, "pairs": len(margins), "model_coefficient": model_coefficient,
                                 "rate_coefficient": rate_coefficient, "weight": beta, "rule_departure": departure,
                                 "kept_epochs": kept_epochs}}


def carried_rate_weight(counts, prior_count, rows, beyond_vectors):
    """--crossfit-carry: (beta, its record) from the --init checkpoint's cross-fit (carried_*),
    with no network trained: its held-out beta, or this run's rule beta (`beyond_vectors`)."""
    return ((beyond_vectors if carried_beta is None else carried_beta),
            {"selected_by": f"carried from the --init checkpoint's cross-fit: {carry_why}", "crossfit": carried_record})


def record_served_figures(served, record, added):
    """After a part was added to the model after training (`added`): the validation figures
    become the served model's, the record keeping the one without it as val_pairwise_without."""
    if added and val_users:
        shown = evaluate(model_scorer(served, vectors), val_users)
        record["val_pairwise_without"] = best["val_pairwise"]
        best.update(val_pairwise=float(shown["pairwise"]), val_top1=shown["top1"])


item_rates = None
if args.item_rates != "off":
    model, item_rates = add_item_rates(model, dataset, train_ids, args.seed,
                                       None if args.item_rates != "crossfit" else
                                       carried_rate_weight if carried_record else cross_fitted_rate_weight)
    config = model.config
    record_served_figures(model, item_rates, bool(item_rates["items"]))
    log(f"item like rates: weight {item_rates['weight']} on {item_rates['items']} remembered items "
        f"({item_rates['prior_count']:g} pseudo-counts; {item_rates['selected_by']})")
co_likes = None
if args.co_likes != "off":
    model, co_likes = add_co_likes(model, dataset, train_ids, val_users)
    config = model.config
    record_served_figures(model, co_likes, bool(config.co_like_memory))
    log(f"co-likes: weight {co_likes['weight']} on {co_likes['items']} remembered items ({co_likes['selected_by']})")
latent_classes = None
if args.latent_classes != "off":
    model, latent_classes = add_latent_classes(model, dataset, train_ids, val_users, args.seed)
    config = model.config
    record_served_figures(model, latent_classes, bool(config.latent_class_count))
    log(f"latent classes: weight {latent_classes['weight']} on {latent_classes['classes']} classes ({latent_classes['selected_by']})")
choice_prior = None
if args.choice_prior != "off":
    model, choice_prior = add_choice_prior(model, dataset, train_ids, val_users, args.seed)
    config = model.config
    record_served_figures(model, choice_prior, bool(config.choice_memory))
    log(f"choice prior: weight {choice_prior['weight']} from {choice_prior['choices']} training choices "
        f"({choice_prior['selected_by']})")
if group_network is not None:
    # Last: every part above scores, and the taste-group network only gives the user embedding.
    model = WithGroupNetwork.of(model, group_network)
    config = model.config
# Training time counts every network trained, the cross-fit's and the taste-group network's included.
episodes_seen, train_seconds = totals["episodes"], sum(totals["epoch_seconds"])
trained_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
metrics = {
    **best,
    "epochs": history,
    "episodes_per_second": episodes_seen / train_seconds,
    "train_seconds": train_seconds,
    "epoch_seconds": totals["epoch_seconds"],
    "device": args.device,
    # The forward passes' precision while the networks trained (trainer/precision.py).
    "autocast": {"setting": args.autocast, "used": autocast, "emulated": emulation is not None},
    "torch_threads": torch.get_num_threads(),
    # Other kernels train other weights from the same command (trainer/kernels.py).
    "cpu_kernels": cpu_kernels(),
    "train_users": len(train_ids),
    "val_share": {"share": round(val_share, 4), "held_out": len(val_ids), "selected_by": "auto" if args.val_share is None else "--val-share"},
    "episodes_per_user": episodes_per_user,
    "loss": args.loss,
    "cp_form": args.cp_form if args.loss == "all" else None,
    "choices_as_choices": args.choices_as_choices,
    "history_draw": args.history_draw,
    # The share of episodes trained with the history withheld (--cold-share).
    "cold_share": args.cold_share,
    # The noise on the vectors the networks trained on (trainer/vector_noise.py): share of the spread, and sigma.
    "vector_noise": {"share": args.vector_noise, "sigma": round(vector_noise.sigma, 6)},
    "lr": args.lr,
    # The warm-started network's largest learning rate (train_network); None without --init.
    "init_lr": (args.lr if args.init_lr is None else args.init_lr) if args.init else None,
    "token_init": args.token_init,
    "seed": args.seed,
    "data": os.path.abspath(args.data),
    "ensemble": ensemble,
    "item_rates": item_rates,
    "co_likes": co_likes,
    "latent_classes": latent_classes,
    "choice_prior": choice_prior,
    "average_epochs": args.average_epochs or None,
    # None where no taste-group network was trained (--group-episodes off, or an epoch draws enough).
    "group_network": group_record,
}
checkpoint = {
    "config": config.to_dict(),
    "state_dict": model.state_dict(),
    "metrics": metrics,
    "trained_at": trained_at,
    "model_version": trained_at.replace(":", "").replace("-", ""),
    "init": args.init,
}
torch.save(checkpoint, os.path.join(args.out, "ckpt.pt"))
export_onnx(model, os.path.join(args.out, "model.onnx"), metadata_for(checkpoint))
with open(os.path.join(args.out, "metrics.json"), "w") as f:
    json.dump(metrics, f, indent=2, allow_nan=False)
if best["val_pairwise"] is None:
    # A warning, not a log line: nothing chose this model's epoch or its weights on users it did
    # not train on, and a tenant's operator learns it from the nightly's log.
    warn(f"no validation users ({len(val_ids)} held back, none with 2 likes, 2 dislikes and a target of each): "
         f"kept the last epoch, {best.get('epoch')}, unvalidated")
    log(f"wrote model.onnx, ckpt.pt, metrics.json to {args.out}")
else:
    kept = (f"best epoch {best['epoch']}" if "networks" not in best
            else f"the average of {len(best['networks'])} networks (epochs {', '.join(str(n['epoch']) for n in best['networks'])})")
    log(f"{kept}: validation pairwise {best['val_pairwise']:.2f} (EVAL-1({val_n}), {best['val_users']} users); "
        f"wrote model.onnx, ckpt.pt, metrics.json to {args.out}")
