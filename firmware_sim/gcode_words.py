"""Device-side G-code word parsing, as Marlin's parser reads a command line (`G1X10 Y2.5E.3`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")
_COMMAND = re.compile(r"\s*([GMT])\s*(\d+)(?:\.\d+)?")


@dataclass(frozen=True)
class Words:
    """One parsed command: its name (`G1`, `M105`, `T0`), its numeric parameters and the raw argument text."""

    name: str
    params: dict[str, float | None] = field(default_factory=dict)
    args: str = ""

    def has(self, letter: str) -> bool:
        """Whether the parameter letter appears at all (with or without a value)."""
        return letter in self.params

    def value(self, letter: str, default: float | None = None) -> float | None:
        """The parameter's value, or the default when missing or given without a number."""
        v = self.params.get(letter)
        return default if v is None else v


def parse_words(text: str) -> Words | None:
    """Parse a command line; None when it does not start with a G, M or T command number."""
    m = _COMMAND.match(text.upper())
    if m is None:
        return None
    name = f"{m.group(1)}{int(m.group(2))}"
    args = text[m.end():]
    params: dict[str, float | None] = {}
    if name not in ("M117", "M118", "M23", "M28", "M30"):
        for letter, number in _WORD.findall(args.upper()):
            try:
                params[letter] = float(number) if number else None
            except ValueError:
                params[letter] = None
    return Words(name, params, args.strip())
