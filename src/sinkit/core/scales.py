"""Scale numbers as users write them: an index from the coarsest (``2``) or the paper's notation (``N-2``).

Index 0 is the coarsest scale, the paper's ``N``; index ``k`` is ``N-k``.  The
CLI, the benchmark and the tasks all parse and label scales here.

Example:
    >>> parse_scale("N-2", 8), parse_scale("3", 8), scale_label(0), scale_label(2)
    (2, 3, 'N', 'N-2')
    >>> parse_scales("all", 4, range(1, 4))
    [1, 2, 3]
"""

from __future__ import annotations

import re

__all__ = ["parse_scale", "parse_scales", "scale_label"]


def scale_label(index: int) -> str:
    """Paper notation of scale ``index``: ``N`` for 0, ``N-k`` for k."""
    return "N" if index == 0 else f"N-{index}"


def parse_scale(text: str | int, num_scales: int | None = None, valid: range | None = None) -> int:
    """Parse one scale given as an index (``2``) or in paper notation (``N-2``).

    Args:
        text: what the user wrote.
        num_scales: number of scales of the model (``valid`` defaults to ``range(num_scales)``);
            None skips the range check.
        valid: the allowed indices.

    Raises:
        ValueError: unparsable, or outside ``valid`` (the message lists the valid range).
    """
    s = str(text).strip().replace(" ", "")
    m = re.fullmatch(r"N(?:-(\d+))?", s, flags=re.IGNORECASE)
    if m:
        index = int(m.group(1) or 0)
    elif re.fullmatch(r"\d+", s):
        index = int(s)
    else:
        raise ValueError(f"{text!r} is not a scale; use an index (0 = coarsest) or N, N-1, ...")
    valid = valid if valid is not None else (range(num_scales) if num_scales is not None else None)
    if valid is not None and index not in valid:
        raise ValueError(
            f"scale {text} is outside the valid range {valid.start}..{valid.stop - 1} "
            f"(indices from the coarsest; paper notation N-{valid.start}..N-{valid.stop - 1})"
        )
    return index


def parse_scales(text: str, num_scales: int, valid: range | None = None) -> list[int]:
    """Comma-separated scales, or ``all`` for every valid one (sorted as given)."""
    valid = valid if valid is not None else range(num_scales)
    if text.strip().lower() == "all":
        return list(valid)
    return [parse_scale(t, num_scales, valid) for t in text.split(",") if t.strip()]
