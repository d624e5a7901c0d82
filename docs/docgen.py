"""What every docs generator's command line shares: write the generated file, or ``--check`` it.

    def main(argv=None) -> int:
        return docgen.main(argv, doc=__doc__, script="docs/gen_x.py", target=TARGET,
                           generate=lambda args: generate())

``--check`` writes nothing: exit 1 (with the command that regenerates on stderr) when ``target`` is
missing or differs from the generated text, else 0. Without it, ``target`` is rewritten (UTF-8).
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable, Optional

ROOT = pathlib.Path(__file__).resolve().parent.parent


def write_or_check(target: pathlib.Path, text: str, *, check: bool, script: str) -> int:
    """Write ``text`` to ``target`` (0), or with ``check`` only compare (0 current, 1 stale)."""
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is stale: run .venv/bin/python {script}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    return 0


def main(argv, *, doc: str, script: str, target: pathlib.Path,
         generate: Callable[[argparse.Namespace], str],
         add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> int:
    """A generator's CLI: ``doc``'s first line as description, ``--check``, plus ``add_arguments``'s."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if add_arguments is not None:
        add_arguments(ap)
    ap.add_argument("--check", action="store_true",
                    help=f"only check that {target.relative_to(ROOT)} is current")
    args = ap.parse_args(argv)
    return write_or_check(target, generate(args), check=args.check, script=script)
