"""A result's figure never replaces a user's file unless asked."""

import pytest

from actmax import logit, visualize
from actmax.errors import ActmaxError


def test_save_refuses_to_overwrite_unless_asked(lab_model, tmp_path):
    result = visualize(lab_model, [logit(1)], iterations=2)
    path = tmp_path / "grid.png"
    path.write_bytes(b"mine")
    with pytest.raises(ActmaxError, match="already exists; pass overwrite=True"):
        result.save(path)
    assert path.read_bytes() == b"mine"
    result.save(path, overwrite=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.save(tmp_path / "new.svg").read_text().lstrip().startswith("<?xml")
