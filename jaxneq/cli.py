"""The `jaxneq` command: `jaxneq tour` runs every demonstration (units: k_B = 1)."""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
import time


def _tour(out_dir: pathlib.Path, quick: bool, only: list[str] | None) -> int:
    from ._tour import DEMOS

    out_dir.mkdir(parents=True, exist_ok=True)
    names = DEMOS if not only else [d for d in DEMOS if d in only]
    if only and len(names) != len(only):
        unknown = sorted(set(only) - set(DEMOS))
        print(f"unknown demo(s) {unknown}; available: {DEMOS}", file=sys.stderr)
        return 2
    summary = {}
    for name in names:
        module = importlib.import_module(f"jaxneq._tour.{name}")
        print(f"== {module.TITLE} ({name})", flush=True)
        start = time.perf_counter()
        result = module.run(out_dir, quick)
        elapsed = time.perf_counter() - start
        print(json.dumps(result, indent=2, default=float))
        print(f"   [{elapsed:.1f} s; figures in {out_dir}]", flush=True)
        summary[name] = result
    (out_dir / "tour.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"tour: {len(names)} demo(s) done; numbers in {out_dir / 'tour.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jaxneq", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tour = sub.add_parser("tour", help="run every demonstration, print numbers, write figures")
    tour.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("jaxneq-tour"),
        help="folder for figures and tour.json (default: ./jaxneq-tour)",
    )
    tour.add_argument("--quick", action="store_true", help="smaller ensembles, fewer steps")
    tour.add_argument("--only", nargs="*", help="run only these demos")
    args = parser.parse_args(argv)
    if args.command == "tour":
        return _tour(args.out, args.quick, args.only)
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
