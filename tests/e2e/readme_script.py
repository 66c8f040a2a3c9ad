"""The README's walk-through as a script (SPEC §10 "The README works as written").

Every ```bash block of README.md's walk-through runs, in order, in one bash session against a
live stack, exactly as a newcomer pastes it. Comments in the README steer the test and read
as notes to a person:

- `<!-- readme: skip -->` before a block: not run (starting `make run`, which the test does
  itself with the same settings);
- `<!-- readme: expect TEXT -->` before a block: the block's output must contain TEXT (several
  may stand before one block).

A block that fails (`set -e`, `curl --fail-with-body`) fails the test with its output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_BLOCK = re.compile(r"((?:<!-- readme: [^\n]*-->\n)*)```bash\n(.*?)```", re.S)
_DIRECTIVE = re.compile(r"<!-- readme: (skip|expect) ?(.*?) ?-->")
MARK = "@@readme-block-{}@@"


@dataclass
class Block:
    number: int
    code: str
    skip: bool = False
    expect: list[str] = field(default_factory=list)


def blocks(readme: Path) -> list[Block]:
    found = []
    for number, match in enumerate(_BLOCK.finditer(readme.read_text())):
        block = Block(number, match.group(2))
        for kind, text in _DIRECTIVE.findall(match.group(1)):
            if kind == "skip":
                block.skip = True
            else:
                block.expect.append(text)
        found.append(block)
    return found


def script(readme: Path) -> str:
    """One bash script of every block that runs, each followed by its end mark."""
    parts = ["set -euo pipefail"]
    for block in blocks(readme):
        if not block.skip:
            parts += [block.code, f"echo {MARK.format(block.number)}"]
    return "\n".join(parts) + "\n"


def outputs(text: str) -> dict[int, str]:
    """Each block's output, by block number, from the script's combined output."""
    found, start = {}, 0
    for match in re.finditer(r"@@readme-block-(\d+)@@\n?", text):
        found[int(match.group(1))] = text[start:match.start()]
        start = match.end()
    return found
