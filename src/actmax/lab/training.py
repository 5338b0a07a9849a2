"""Training as the lab does it, with Keras' semantics, and fast on a small CPU.

Keras semantics where PyTorch's defaults differ:

- RMSprop as Keras updates it (`KerasRMSprop`: epsilon inside the square root), lr 1e-3,
  rho 0.9, epsilon 1e-7; Glorot-uniform kernels and zero biases (`models.build_model`).
- Categorical cross-entropy, computed from the logits (log-softmax) instead of Keras' clipped
  probabilities: the same loss without the clipping, and numerically stable.
- Batch size 128, the last batch smaller; the training set is reshuffled every epoch; the reported
  training loss and accuracy are the running means over the epoch; the test set is the validation
  data, evaluated after every epoch.

Speed (measured by `benchmarks/train.py`): the whole data set stays in one tensor and batches are
gathered by a per-epoch permutation (no DataLoader and no loader processes); on a CPU each batch
is cut into one slice per core, the slices run concurrently on single-threaded ops and their
gradients are summed in a fixed order (OpenMP's per-op threading costs more than it gains on
tensors this small, and stalls when the machine is busy); convolutions run channels-last
(oneDNN's fast layout); for the lab CNN, ReLU is applied after each max-pool, which gives
identical values and gradients on a quarter of the elements; evaluation runs in inference mode
in large batches; the optimizer updates all tensors at once (`torch._foreach_*`).

Reproducibility: a seed fixes the initial weights, the shuffling and any augmentation, so a run is
repeatable bit for bit on a CPU with the same thread count (which sets the slicing). A checkpoint
after every epoch holds the model, optimizer state, history and random-generator states, so a
resumed run ends exactly where an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..devices import resolve_device
from ..errors import ActmaxError
from ..io import write_json
from ..parallel import BatchWorkers, cpu_threads
from .checkpoint import save_model
from .data import DATASETS, Dataset, fingerprint, load_dataset
from .evaluation import (
    Evaluation,
    Forward,
    classification_report,
    evaluate,
    logits_of,
)
from .models import ARCHITECTURES, LabCNN, build_model
from .runs import RunFolder, TrainingState

History = dict[str, list[float]]
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
EpochCallback = Callable[[TrainingState], None]

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
KEY_FORMAT = 1


# --------------------------------------------------------------------------- settings


def data_fingerprint(path: str | None, dataset: str = "mnist") -> str:
    """The checksum of the data a run trains on (see `data.fingerprint`)."""
    return fingerprint(dataset, path)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result. The defaults are the lab's settings."""

    architecture: str = "lab_cnn"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    rho: float = 0.9
    epsilon: float = 1e-7
    seed: int = 0
    dataset: str = "mnist"  # a name of `data.DATASETS`
    data: str | None = None  # where to read it (mnist.npz, idx folder); None: the usual place

    def __post_init__(self) -> None:
        problems = []
        if self.architecture not in ARCHITECTURES:
            known = ", ".join(sorted(ARCHITECTURES))
            problems.append(f"unknown architecture {self.architecture!r} (known: {known})")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            problems.append(f"epochs must be a positive integer, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            problems.append(f"batch size must be a positive integer, got {self.batch_size!r}")
        if not self.learning_rate > 0:
            problems.append(f"learning rate must be positive, got {self.learning_rate!r}")
        if not 0 <= self.rho < 1:
            problems.append(f"rho must be in [0, 1), got {self.rho!r}")
        if not self.epsilon > 0:
            problems.append(f"epsilon must be positive, got {self.epsilon!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.dataset not in DATASETS:
            problems.append(f"unknown data set {self.dataset!r} (known: {', '.join(DATASETS)})")
        if problems:
            raise ActmaxError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ActmaxError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**settings)

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def key(self) -> str:
        """A stable hash of the settings and the data's checksum: equal keys, equal models."""
        settings = self.to_dict()
        settings["data"] = data_fingerprint(self.data, self.dataset)
        blob = json.dumps({"key_format": KEY_FORMAT, **settings}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    """`runs/<architecture>-<data set>-<key prefix>`: the same settings, the same folder."""
    return Path(root) / f"{config.architecture}-{config.dataset}-{config.key()[:10]}"


# --------------------------------------------------------------------------- optimizer


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop with Keras' update rule: `v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)`.

    `torch.optim.RMSprop(alpha=rho, eps=eps)` divides by `sqrt(v) + eps` instead, which takes
    steps up to ~30x larger for parameters whose gradients are tiny (|g| << sqrt(eps) = 3e-4).
    The velocity starts at zero, as in Keras.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-3,
        rho: float = 0.9,
        epsilon: float = 1e-7,
    ):
        if not lr > 0 or not 0 <= rho < 1 or not epsilon > 0:
            raise ValueError(f"invalid RMSprop settings lr={lr}, rho={rho}, epsilon={epsilon}")
        super().__init__(params, {"lr": lr, "rho": rho, "epsilon": epsilon})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            velocities = []
            for p in params:
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                velocities.append(state["velocity"])
            rho, lr, eps = group["rho"], group["lr"], group["epsilon"]
            torch._foreach_mul_(velocities, rho)
            torch._foreach_addcmul_(velocities, grads, grads, value=1 - rho)
            denominators = torch._foreach_add(velocities, eps)
            torch._foreach_sqrt_(denominators)
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
        return loss


# --------------------------------------------------------------------------- the training loop


def training_logits(model: nn.Module) -> Forward:
    """The fastest exact way to compute a model's logits for training and evaluation.

    For the lab CNN the ReLU moves behind each max-pool: max and ReLU commute, so values and
    gradients are identical, and the ReLU (and its backward) touches a quarter of the elements.
    Any other model: `model.logits` if it has one, else `model` (which must then return logits).
    """
    hidden = ("l1", "l2", "l3", "l4")
    if isinstance(model, LabCNN) and all(
        isinstance(getattr(model, name).activation, nn.ReLU) for name in hidden
    ):
        blocks = ((model.l1, model.l1_mp), (model.l2, model.l2_mp), (model.l3, model.l3_mp))

        def forward(x: torch.Tensor) -> torch.Tensor:
            for conv, pool in blocks:
                x = F.relu(pool(conv.conv(x)))
            return model.l5.linear(F.relu(model.l4.linear(model.flat(x))))

        return forward
    return logits_of(model)


def _rng_state(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    states = {"shuffle": generator.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _restore_rng(states: dict[str, torch.Tensor], generator: torch.Generator, device) -> None:
    generator.set_state(states["shuffle"])
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


@contextmanager
def channels_last_weights(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Keep 4-d weights channels-last inside the block (oneDNN's fast layout), as before after."""
    if enabled:
        model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        if enabled:
            model.to(memory_format=torch.contiguous_format)


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give loaded optimizer buffers their parameter's memory layout (as a fresh run has)."""
    for param, state in optimizer.state.items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                state[name] = torch.empty_like(param).copy_(value)


def splits_safely(model: nn.Module) -> bool:
    """Whether a training batch may be cut into slices trained concurrently with the same result.

    Not for models with batch statistics (batch/instance norm: the slices would see different
    statistics and update the running ones concurrently) or random layers (dropout: the random
    draws of concurrent threads interleave, so a seed no longer fixes the run).
    """
    unsafe = (nn.modules.batchnorm._NormBase, nn.modules.dropout._DropoutNd, nn.RReLU)
    return not any(isinstance(module, unsafe) for module in model.modules())


def _train_step(
    model_params: list[nn.Parameter],
    forward: Forward,
    optimizer: torch.optim.Optimizer,
    xb: torch.Tensor,
    yb: torch.Tensor,
    workers: BatchWorkers | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch; returns the batch's summed loss and number of hits."""
    if workers is None:
        logits = forward(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach() * len(yb), (logits.detach().argmax(dim=1) == yb).sum()

    total = len(yb)

    def part(rows: slice) -> tuple[torch.Tensor, torch.Tensor, tuple]:
        logits = forward(xb[rows])
        loss = F.cross_entropy(logits, yb[rows], reduction="sum")
        grads = torch.autograd.grad(loss / total, model_params, allow_unused=True)
        return loss.detach(), (logits.detach().argmax(dim=1) == yb[rows]).sum(), grads

    parts = workers.map(part, total)
    for i, param in enumerate(model_params):  # summed in slice order: deterministic
        grad = None
        for _, _, grads in parts:
            if grads[i] is not None:
                grad = grads[i] if grad is None else grad.add_(grads[i])
        param.grad = grad
    optimizer.step()
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _train_epoch(
    model: nn.Module,
    forward: Forward,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
    augment: Augment | None,
    generator: torch.Generator,
    workers: BatchWorkers | None,
    bar: tqdm | None,
) -> tuple[float, float]:
    """One pass over the data in `order`; returns the epoch's mean loss and accuracy (Keras')."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    n, steps = len(order), -(-len(order) // batch_size)
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    hits = torch.zeros((), dtype=torch.long, device=x.device)
    every = max(1, steps // 25)  # the bar's numbers cost a device sync: refresh them now and then
    for step in range(steps):
        index = order[step * batch_size : (step + 1) * batch_size]
        xb, yb = x[index], y[index]
        if augment is not None:
            xb = augment(xb, generator)
        batch_loss, batch_hits = _train_step(params, forward, optimizer, xb, yb, workers)
        loss_sum += batch_loss
        hits += batch_hits
        if bar is not None and ((step + 1) % every == 0 or step + 1 == steps):
            seen = min((step + 1) * batch_size, n)
            bar.set_postfix(
                loss=f"{loss_sum.item() / seen:.4f}",
                accuracy=f"{hits.item() / seen:.4f}",
                refresh=False,
            )
            bar.update(step + 1 - bar.n)
    return loss_sum.item() / n, hits.item() / n


def fit(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    optimizer: torch.optim.Optimizer | None = None,
    validation_data: tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor] | None = None,
    augment: Augment | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    forward: Forward | None = None,
    channels_last: bool = True,
    threads: int | None = None,
    parallel: bool | None = None,
    state: TrainingState | None = None,
    on_epoch_end: EpochCallback | None = None,
    progress: bool = True,
) -> History:
    """Train any classifier with cross-entropy, Keras-style, and return its per-epoch history.

    `forward(x)` must give logits (default: `training_logits(model)`); `optimizer` defaults to
    `KerasRMSprop` with Keras' settings; `augment(batch, generator)` may alter each training batch
    and must draw its randomness from `generator` so that the seed covers it. `state` continues
    from a checkpoint; `on_epoch_end(state)` receives the state after every epoch (to save it).
    A KeyboardInterrupt stops training at once, leaving the last state handed out intact.

    On a CPU with `threads` > 1 (default: PyTorch's thread count), each batch is cut into one
    slice per thread, trained concurrently, and the gradients are summed in a fixed order
    (`parallel=None`: whenever `splits_safely(model)`); otherwise ops use `threads` threads.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs}, {batch_size}")
    device = resolve_device(device)
    x = torch.as_tensor(x).to(device)
    y = torch.as_tensor(y).long().to(device)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)}, {len(y)}")
    model.to(device)
    optimizer = optimizer if optimizer is not None else KerasRMSprop(model.parameters())
    forward = forward if forward is not None else training_logits(model)
    generator = torch.Generator().manual_seed(seed)
    history: History = {k: [] for k in HISTORY_KEYS}
    threads = threads if threads is not None else torch.get_num_threads()
    if parallel is None:
        parallel = splits_safely(model)
    parallel = parallel and device.type == "cpu" and threads > 1
    rng_devices = [device] if device.type == "cuda" else []
    with (
        cpu_threads(threads),
        torch.random.fork_rng(devices=rng_devices),
        BatchWorkers.for_cpu(threads, batch_size) if parallel else nullcontext() as workers,
        channels_last_weights(model, channels_last),
    ):
        torch.manual_seed(seed)
        start = 0
        if state is not None:
            model.load_state_dict(state.model)
            optimizer.load_state_dict(state.optimizer)
            _match_layouts(optimizer)
            _restore_rng(state.rng, generator, device)
            history = {k: list(state.history.get(k, [])) for k in HISTORY_KEYS}
            start = state.epoch
        for epoch in range(start, epochs):
            began = time.perf_counter()
            order = torch.randperm(len(x), generator=generator).to(device)
            with tqdm(
                total=-(-len(x) // batch_size),
                desc=f"epoch {epoch + 1}/{epochs}",
                unit="step",
                disable=not progress,
                dynamic_ncols=True,
            ) as bar:
                loss, accuracy = _train_epoch(
                    model,
                    forward,
                    optimizer,
                    x,
                    y,
                    order,
                    batch_size,
                    augment,
                    generator,
                    workers,
                    bar if progress else None,
                )
                history["loss"].append(loss)
                history["accuracy"].append(accuracy)
                summary = {"loss": loss, "accuracy": accuracy}
                if validation_data is not None:
                    val = evaluate(
                        model, *validation_data, forward=forward, device=device, workers=workers
                    )
                    history["val_loss"].append(val.loss)
                    history["val_accuracy"].append(val.accuracy)
                    summary.update(val_loss=val.loss, val_accuracy=val.accuracy)
                bar.set_postfix({k: f"{v:.4f}" for k, v in summary.items()})
                history["seconds"].append(time.perf_counter() - began)
            if on_epoch_end is not None:
                on_epoch_end(
                    TrainingState(
                        epoch=epoch + 1,
                        model=model.state_dict(),
                        optimizer=optimizer.state_dict(),
                        history={k: list(v) for k, v in history.items()},
                        rng=_rng_state(generator, device),
                    )
                )
    return history


# --------------------------------------------------------------------------- a whole run


@dataclass
class TrainResult:
    """A finished run: the trained model, its history, its test metrics and where it was saved."""

    config: TrainConfig
    model: nn.Module
    history: History
    test: Evaluation
    report: dict[str, Any]
    run: RunFolder
    metrics: dict[str, Any]
    figures: list[Path]


def _check_resumable(stored: TrainConfig, wanted: TrainConfig) -> None:
    different = [
        f"{f.name}={getattr(stored, f.name)!r} (asked: {getattr(wanted, f.name)!r})"
        for f in fields(TrainConfig)
        if f.name != "epochs" and getattr(stored, f.name) != getattr(wanted, f.name)
    ]
    if different:
        raise ActmaxError(
            "cannot resume with other settings than the run was started with: "
            + ", ".join(different)
        )


def _start_or_resume(
    out_dir: Path, config: TrainConfig, resume: bool
) -> tuple[RunFolder, TrainingState | None]:
    record = {"key": config.key(), "config": config.to_dict()}
    if not resume:
        return RunFolder.create(out_dir, record), None
    run = RunFolder.open(out_dir)
    try:
        stored = TrainConfig.from_dict(run.read_config()["config"])
    except (KeyError, TypeError) as exc:
        raise ActmaxError(f"{run.config_file} is corrupt ({exc})") from None
    _check_resumable(stored, config)
    state = run.load_state()[0] if run.has_checkpoint() else None
    if state is not None and state.epoch > config.epochs:
        raise ActmaxError(
            f"{out_dir} has already trained {state.epoch} epochs, more than the {config.epochs} "
            "asked for"
        )
    if stored != config:
        run.write_config(record)
    return run, state


def train(
    config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    data: Dataset | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device | None = "auto",
    threads: int | None = None,
    on_epoch_end: EpochCallback | None = None,
) -> TrainResult:
    """Train, evaluate and save a model into a run folder as the lab does, checkpointing each epoch.

    `data` replaces loading `config.data` (e.g. a subset). `resume=True` continues the run in
    `out_dir` from its last checkpoint; an existing non-empty `out_dir` is otherwise refused.
    The folder receives `model.safetensors` + `model.json` (`checkpoint.load_model(out_dir)`),
    `metrics.json`, `loss.png`, `accuracy.png` and `confusion_matrix.png`.
    """
    from .training_plots import save_training_figures

    began = time.perf_counter()
    config = config if config is not None else TrainConfig()
    out_dir = Path(out_dir) if out_dir is not None else default_run_dir(config)
    torch_device = resolve_device(device)
    data = data if data is not None else load_dataset(config.dataset, config.data)
    run, state = _start_or_resume(out_dir, config, resume)

    def checkpoint(state: TrainingState) -> None:
        run.save_state(state, key=config.key(), config=config.to_dict())
        if on_epoch_end is not None:
            on_epoch_end(state)

    model = build_model(config.architecture, seed=config.seed)
    optimizer = KerasRMSprop(
        model.parameters(), lr=config.learning_rate, rho=config.rho, epsilon=config.epsilon
    )
    history = fit(
        model,
        data.x_train,
        data.y_train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=optimizer,
        validation_data=(data.x_test, data.y_test),
        seed=config.seed,
        device=torch_device,
        threads=threads,
        state=state,
        on_epoch_end=checkpoint,
        progress=progress,
    )
    # evaluated the way fit() validates, so the numbers equal the last epoch's validation
    eval_threads = threads if threads is not None else torch.get_num_threads()
    parallel = torch_device.type == "cpu" and eval_threads > 1 and splits_safely(model)
    workers = BatchWorkers.for_cpu(eval_threads, config.batch_size) if parallel else nullcontext()
    with workers as pool, channels_last_weights(model):
        test = evaluate(
            model,
            data.x_test,
            data.y_test,
            forward=training_logits(model),
            device=torch_device,
            workers=pool,
        )
    report = classification_report(data.y_test, test.predictions, data.n_classes)
    save_model(model, run.path, config.architecture)
    figures = save_training_figures(
        history, np.asarray(report["confusion_matrix"]), run.path, data.class_names
    )
    train_seconds = float(sum(history["seconds"]))
    metrics = {
        "key": config.key(),
        "config": config.to_dict(),
        "seed": config.seed,
        "data": {
            "dataset": config.dataset,
            "source": data.source,
            "sha256": data_fingerprint(config.data, config.dataset),
            "class_names": list(data.class_names),
        },
        "history": history,
        "test": {"loss": test.loss, "accuracy": test.accuracy},
        **report,
        "timing": {
            "train_seconds": train_seconds,
            "epoch_seconds": history["seconds"],
            "images_per_second": len(data.y_train) * len(history["seconds"]) / train_seconds
            if train_seconds > 0
            else None,
            "wall_seconds": time.perf_counter() - began,
        },
        "environment": {
            "device": str(torch_device),
            "threads": threads if threads is not None else torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "files": {"model": "model.safetensors", "figures": [p.name for p in figures]},
    }
    write_json(run.metrics_file, metrics)
    return TrainResult(config, model.eval(), history, test, report, run, metrics, figures)
