"""The one reading of a number from a cell's text, for training (data.py) and serving (codecs.py).

A number is plain ASCII decimal or scientific notation: an optional sign, digits with an
optional decimal point, an optional exponent (`0.455`, `-.5`, `3e2`, `+1.5E-3`), with any
whitespace around it. Nothing else is one, so a model never learns from or answers on what a
client meant otherwise: not `inf` or `nan` (a missing value is an empty cell), not `0x10`,
`1_000` or `1,5`, not full-width or other non-ASCII digits, not a value too large for a float.
"""

from __future__ import annotations

import math

EMPTY = math.nan  # an empty (or blank) cell: a missing value the model imputes
PLAIN = "write numbers as plain decimals such as 0.455 or -1.5e3"  # for error messages


def text_number(text: str) -> float | None:
    """The finite float `text` writes, EMPTY when it is blank, or None when it is not a number.

    `float` reads exactly the plain notation above once ASCII without underscores is left
    (its other spellings, inf and nan, are not finite): two C-level checks, no regex per cell.
    """
    if not text.isascii():
        text = text.strip()  # non-ASCII whitespace around is still only whitespace
        if not text.isascii():
            return None
    if "_" in text:
        return None
    try:
        number = float(text)
    except ValueError:
        return EMPTY if not text.strip() else None
    return number if math.isfinite(number) else None
