"""Both recipes give today's images, bit for bit on the CPU at a fixed thread count."""

import numpy as np
import pytest
from pinned_recipes import CASES, PINNED, key, run


@pytest.mark.parametrize(("recipe", "threads"), CASES)
def test_recipe_output_is_unchanged(recipe, threads):
    pinned = np.load(PINNED)
    got = run(recipe, threads)
    for name in ("inputs", "activations", "history_objective", "history_loss"):
        expected = pinned[key(recipe, threads, name)]
        np.testing.assert_array_equal(got[name], expected, err_msg=f"{recipe}, {name}")
    regularizer_keys = sorted(k for k in got if k.startswith("history_"))
    for name in regularizer_keys:
        np.testing.assert_array_equal(got[name], pinned[key(recipe, threads, name)])
