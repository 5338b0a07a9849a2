"""The lab: every experiment of the activation-maximization notebook, measured and reported."""

from .realism import (
    Judge,
    JudgeCNN,
    JudgeConfig,
    Measures,
    RandomAffine,
    RealismMeter,
    load_or_train_judge,
    train_judge,
)

__all__ = [
    "Judge",
    "JudgeCNN",
    "JudgeConfig",
    "Measures",
    "RandomAffine",
    "RealismMeter",
    "load_or_train_judge",
    "train_judge",
]
