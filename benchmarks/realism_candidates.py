"""Which realism score? Every candidate measured on the images it must tell apart.

    python benchmarks/realism_candidates.py [--cache runs/cache] [--dataset fashion-mnist]

Trains (or reuses from the lab's cache) the lab CNN, the judge and the VAE, then scores held-out
real test images and the images a realism score must rank low: noise, constant images, keras-vis'
class images at the lab's tv_weight, adversarial-looking images (real digits pushed to another
class's logit with no regularizer, and unregularized class images from noise), and two
corruptions at growing strength (Gaussian noise added; a blur mixed in).

For every candidate it prints, per group of bad images, the share scored below the 1st percentile
of the real images and the AUROC real-vs-bad (1 = perfect separation), and along each corruption
whether the mean score falls at every step and the share of images whose own score does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from actmax.lab.experiments import LabSettings
from actmax.lab.pipeline import trained_model
from actmax.lab.realism import JudgeConfig, load_or_train_judge
from actmax.lab.realism_probes import blur_mix, noisy, probes
from actmax.lab.realism_score import RealismScore
from actmax.lab.vae import VAEConfig, elbo, load_or_train_vae

NOISE_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
BLUR_LEVELS = (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)


@torch.no_grad()
def judge_features(judge: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The judge's 128 hidden units (after ReLU): its penultimate features."""
    out = []
    for i in range(0, len(x), 2000):
        h = torch.relu(judge.conv1(x[i : i + 2000]))
        h = torch.relu(judge.conv2(h))
        out.append(torch.relu(judge.hidden(h.flatten(1))))
    return torch.cat(out).double()


def fit_candidates(data, judge, vae) -> dict:
    """Each candidate: images (N, 1, H, W) in [0, 1] -> score per image, higher = more real."""
    x_train = torch.from_numpy(data.x_train)
    y = data.y_train
    f_train = judge_features(judge, x_train)
    classes = np.unique(y)
    means = torch.stack([f_train[torch.from_numpy(y == c)].mean(0) for c in classes])
    centred = f_train - means[torch.from_numpy(y)]
    cov = centred.T @ centred / len(f_train) + 1e-3 * torch.eye(f_train.shape[1])
    precision = torch.linalg.inv(cov)
    bank = f_train[::6]  # 10,000 training features for nearest neighbours
    pixels = x_train[::6].flatten(1).double()

    def mahalanobis(x):
        d = judge_features(judge, x)[:, None, :] - means[None]  # (N, K, F)
        m = torch.einsum("nkf,fg,nkg->nk", d, precision, d)
        return -m.min(1).values.numpy()

    def class_mean(x):  # one image's Fréchet distance to a class Gaussian, up to a constant
        f = judge_features(judge, x)
        return -torch.cdist(f, means).min(1).values.numpy()

    def knn(bank, features, k=5):
        def score(x):
            d = torch.cdist(features(x), bank)
            return -d.topk(k, largest=False).values.mean(1).numpy()

        return score

    def vae_recon(x):
        from actmax.lab.vae import negative_elbo

        with torch.no_grad():
            recon, _ = negative_elbo(vae, x.clamp(0, 1))
        return -(recon / 784).double().numpy()

    mean_ink = x_train.mean(0, keepdim=True).clamp(1e-3, 1 - 1e-3)

    def marginal(x):  # log-likelihood per pixel of independent pixels with the training mean
        x = x.clamp(0, 1)
        ll = x * mean_ink.log() + (1 - x) * (1 - mean_ink).log()
        return ll.flatten(1).mean(1).double().numpy()

    real_elbo = elbo(vae, torch.from_numpy(data.x_test[:5000]))
    top = float(np.percentile(real_elbo, 99.9))

    def typical(x):  # below the real range as the ELBO; above it, penalized as much
        e = elbo(vae, x)
        return np.where(e > top, 2 * top - e, e)

    return {
        "ink_per_nat": RealismScore(vae, content="ink"),
        "pixels_per_nat": RealismScore(vae, content="pixels"),
        "vae_elbo_ratio": lambda x: elbo(vae, x) - marginal(x),
        "vae_elbo_typical": typical,
        "vae_reconstruction": vae_recon,
        "judge_mahalanobis": mahalanobis,
        "judge_class_mean": class_mean,
        "judge_knn5": knn(bank, lambda x: judge_features(judge, x)),
        "pixel_knn5": knn(pixels, lambda x: x.flatten(1).double()),
    }


CANDIDATES = (
    "ink_per_nat",
    "pixels_per_nat",
    "vae_elbo_ratio",
    "vae_elbo_typical",
    "vae_reconstruction",
    "judge_mahalanobis",
    "judge_class_mean",
    "judge_knn5",
    "pixel_knn5",
)


def auroc(good: np.ndarray, bad: np.ndarray) -> float:
    """P(a random good image scores above a random bad one), ties counting half."""
    order = np.concatenate([good, bad])
    ranks = order.argsort().argsort().astype(np.float64) + 1
    # average ranks of ties
    _, inverse, counts = np.unique(order, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, ranks)
    ranks = (sums / counts)[inverse]
    r_good = ranks[: len(good)].sum()
    return float((r_good - len(good) * (len(good) + 1) / 2) / (len(good) * len(bad)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--real", type=int, default=2000, help="held-out test images scored")
    parser.add_argument("--vae-epochs", type=int, default=VAEConfig().epochs)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from actmax.lab.data import load_dataset

    data = load_dataset(args.dataset)
    settings = LabSettings(device="cpu", dataset=args.dataset)
    model, _, _ = trained_model(settings, data, args.cache, False, print)
    judge = load_or_train_judge(data, args.cache, JudgeConfig(dataset=args.dataset)).model
    vae = load_or_train_vae(
        data.x_train,
        data.x_test,
        args.cache,
        VAEConfig(epochs=args.vae_epochs, dataset=args.dataset),
        progress=True,
    )
    began = time.perf_counter()
    scorers = fit_candidates(data, judge, vae.model)
    print(f"fitted the candidates in {time.perf_counter() - began:.1f} s")

    real = torch.from_numpy(data.x_test[-args.real :])  # the last ones: never a lab yardstick
    t = time.perf_counter()
    groups = probes(model, data.x_test[:20], data.y_test[:20])
    print(f"made the probes in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(0)
    corr_base = real[rng.choice(len(real), 300, replace=False)]
    noise_sets = [noisy(corr_base, s, seed=1) for s in NOISE_LEVELS]
    blur_sets = [blur_mix(corr_base, t) for t in BLUR_LEVELS]

    header = f"{'candidate':<22}{'s/1k':>6}" + "".join(f"{g:>22}" for g in groups)
    header += f"{'noise: mean falls':>20}{'per image':>10}{'blur: mean falls':>19}{'per image':>10}"
    print("each bad group: share below real's 1st percentile / AUROC")
    print(header)
    for name in CANDIDATES:
        score = scorers[name]
        t = time.perf_counter()
        s_real = score(real)
        per_k = (time.perf_counter() - t) / len(real) * 1000
        p1 = np.percentile(s_real, 1)
        row = f"{name:<22}{per_k:>6.2f}"
        for images in groups.values():
            s_bad = score(images)
            row += f"{(s_bad < p1).mean():>13.2f} / {auroc(s_real, s_bad):.3f}"
        for sets in (noise_sets, blur_sets):
            curves = np.stack([score(x) for x in sets])  # (levels, images)
            means = curves.mean(1)
            mean_falls = bool(np.all(np.diff(means) < 0))
            each = float(np.all(np.diff(curves, axis=0) < 0, axis=0).mean())
            row += f"{str(mean_falls):>19}{each:>10.2f}"
        print(row)
        print(
            f"{'':<28}real: median {np.median(s_real):.4f}, 1st pct {p1:.4f}, min "
            f"{s_real.min():.4f}; "
            + ", ".join(f"{g} median {np.median(score(x)):.4f}" for g, x in groups.items())
        )
        print(f"{'':<28}constants: " + " ".join(f"{v:.3f}" for v in score(groups["constant"])))


if __name__ == "__main__":
    main()
