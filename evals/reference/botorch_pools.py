#!/usr/bin/env python3
"""BoTorch side by side with Genesis's optimiser on the same pools and seeds.

Reads pools.json written by `genesis bench search --export` (each pool's
points in the optimiser's coordinates, the oriented noise-free score of
every point, which parameters are categorical and their descriptor
components, and for every seed the start points Genesis used), runs
BoTorch's recommended models from exactly those starts, and writes the
points it picked, per challenge, model and seed, for
`genesis bench search --picks` to score with the same metrics.

Models:
  botorch-mixed  MixedSingleTaskGP (categoricals through BoTorch's
                 categorical kernel), qLogEI, the whole untested pool
                 scored each round (optimize_acqf_discrete).
  botorch-desc   SingleTaskGP over numeric parameters plus the
                 categoricals' descriptor components (the same ones Genesis
                 uses), qLogEI; only for challenges with descriptors.

This is a benchmark, not part of `make test`: run it through
evals/reference/botorch.sh, which makes the virtualenv.
"""
import argparse
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import torch
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf_discrete
from gpytorch.mlls import ExactMarginalLogLikelihood

torch.set_default_dtype(torch.float64)
warnings.filterwarnings("ignore")


def features(pool, model):
    """The model's inputs for every pool point, and the categorical columns."""
    rows = []
    cat_dims = []
    for j, dim in enumerate(pool["dims"]):
        if dim["levels"] == 0:
            rows.append([[x[j]] for x in pool["x"]])
        elif model == "botorch-desc" and dim.get("components"):
            comp = dim["components"]
            rows.append([comp[int(x[j])] for x in pool["x"]])
        else:
            cat_dims.append(sum(len(r[0]) for r in rows))
            rows.append([[x[j]] for x in pool["x"]])
    X = [sum((r[i] for r in rows), []) for i in range(len(pool["x"]))]
    return torch.tensor(X, dtype=torch.float64), cat_dims


def run(pool, model, seed, budget, batch):
    torch.manual_seed(seed)
    X, cat_dims = features(pool, model)
    y = torch.tensor(pool["score"], dtype=torch.float64).unsqueeze(-1)
    picked = list(pool["starts"][str(seed)])
    seconds = 0.0
    while len(picked) < budget:
        train_x, train_y = X[picked], y[picked]
        t0 = time.process_time()
        if cat_dims:
            gp = MixedSingleTaskGP(train_x, train_y, cat_dims=cat_dims, outcome_transform=Standardize(m=1))
        else:
            gp = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=1))
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        except Exception as e:  # a failed fit keeps BoTorch's own fallback state
            print(f"  fit failed ({e}); using the unfitted model", file=sys.stderr)
        acq = qLogExpectedImprovement(gp, best_f=train_y.max())
        taken = set(picked)
        choices = [i for i in range(len(X)) if i not in taken]
        if not choices:
            break
        q = min(batch, budget - len(picked), len(choices))
        cand, _ = optimize_acqf_discrete(acq, q=q, choices=X[choices], unique=True)
        seconds += time.process_time() - t0
        # Map the chosen rows back to pool indices (rows can repeat
        # features only when points are identical, which pools are not).
        for row in cand:
            match = [i for i in choices if i not in taken and torch.equal(X[i], row)]
            if not match:
                raise SystemExit(f"{pool['id']}: chosen point is not in the pool")
            picked.append(match[0])
            taken.add(match[0])
    return picked[:budget], seconds


def write(path, out):
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pools", help="pools.json from genesis bench search --export")
    ap.add_argument("out", help="where to write the picks (JSON)")
    ap.add_argument("--models", default="botorch-mixed,botorch-desc")
    args = ap.parse_args()
    with open(args.pools) as f:
        spec = json.load(f)
    out = {"budget": spec["budget"], "batch": spec["batch"], "runs": []}
    for pool in spec["pools"]:
        for model in args.models.split(","):
            if model == "botorch-desc" and not any(d.get("components") for d in pool["dims"]):
                continue
            t0 = time.time()
            for seed in range(1, spec["seeds"] + 1):
                picks, secs = run(pool, model, seed, spec["budget"], spec["batch"])
                out["runs"].append({"challenge": pool["id"], "config": model, "seed": seed, "picks": picks, "seconds": secs})
                # What finished so far, so a long run can be scored early.
                write(args.out, out)
            print(f"{pool['id']:28s} {model:14s} {spec['seeds']} seeds in {time.time() - t0:.0f} s", file=sys.stderr)
    write(args.out, out)


if __name__ == "__main__":
    main()
