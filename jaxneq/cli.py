"""The `jaxneq` command: `jaxneq tour` runs the demonstrations (units: k_B = 1).

    jaxneq tour                   every demo, in README order
    jaxneq tour NAME [NAME ...]   only these demos (`--list` shows the names)
    jaxneq tour --quick           small sizes (CI); `--full`: GPU sizes
    jaxneq --version

Each demo prints one table: measured ± standard error, the reference, the agreement in
standard errors (or the relative error of a deterministic number). Figures (PNG) and all
numbers (`tour.json`) go into the output folder (`--out`, default ./jaxneq-tour).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys
import threading
import time
import traceback


class _Progress:
    """Stage messages and elapsed seconds of one demo: a self-updating line on a terminal,
    plain lines otherwise."""

    def __init__(self, stream, tty: bool):
        self.stream, self.tty = stream, tty
        self.start = time.perf_counter()
        self.message, self.fraction = "starting", 0.0
        self._stop = threading.Event()
        self._thread = None
        if tty:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _line(self) -> str:
        return f"  [{self.elapsed():6.1f} s] {100 * self.fraction:3.0f} %  {self.message}"

    def _tick(self):
        while not self._stop.wait(0.25):
            self.stream.write("\r" + self._line()[:100].ljust(100))
            self.stream.flush()

    def __call__(self, fraction: float, message: str):
        self.fraction, self.message = min(max(float(fraction), 0.0), 1.0), str(message)
        if not self.tty:
            print(self._line(), file=self.stream, flush=True)

    def close(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def _run_one(module, out_dir: pathlib.Path, quick: bool, full: bool, progress) -> dict:
    """Call a demo's `run` with the protocol's keywords (see `jaxneq._tour`)."""
    return module.run(out_dir, quick, progress=progress, full=full)


def _report(result, figures: list[str], seconds: float) -> None:
    from ._tour._table import format_table

    rows = result.get("table") if isinstance(result, dict) else None
    if rows:
        print(format_table(rows))
    else:
        print("  (this demo prints no table; its numbers are in tour.json)")
    print(f"  {seconds:.1f} s; figures: {', '.join(figures) or 'none'}", flush=True)


def _tour(names: list[str], out_dir: pathlib.Path, quick: bool, full: bool) -> int:
    from ._tour import _figures

    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are written, never shown
    out_dir.mkdir(parents=True, exist_ok=True)
    size = "quick" if quick else "full" if full else "default"
    print(f"jaxneq tour: {len(names)} demo(s), {size} sizes; k_B = 1; SE = standard error")
    summary, failed, total = {}, [], time.perf_counter()
    for i, name in enumerate(names, 1):
        module = importlib.import_module(f"jaxneq._tour.{name}")
        print(f"\n[{i}/{len(names)}] {name}: {module.TITLE}", flush=True)
        progress = _Progress(sys.stdout, sys.stdout.isatty())
        n_figures = len(_figures.saved())
        try:
            result = _run_one(module, out_dir, quick, full, progress)
        except Exception:  # one failing demo does not stop the tour
            progress.close()
            traceback.print_exc()
            print(f"  FAILED after {progress.elapsed():.1f} s", flush=True)
            failed.append(name)
            continue
        progress.close()
        seconds = progress.elapsed()
        result = dict(result) if isinstance(result, dict) else {"result": result}
        result["seconds"] = round(seconds, 2)
        summary[name] = result
        # the figures are still being written in the background: name them, don't look
        _report(result, [p.name for p in _figures.saved()[n_figures:]], seconds)
    try:
        _figures.wait()  # the figures are written in the background while demos run
    except Exception:
        traceback.print_exc()
        failed.append("figures")
    path = out_dir / "tour.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=float))
    tmp.replace(path)
    print(f"\ntour: {len(summary)} of {len(names)} demo(s) in {time.perf_counter() - total:.1f} s")
    print(f"figures: {out_dir.resolve()}\nnumbers: {path.resolve()}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _titles() -> list[tuple[str, str]]:
    from ._tour import DEMOS

    out = []
    for name in DEMOS:
        try:
            out.append((name, importlib.import_module(f"jaxneq._tour.{name}").TITLE))
        except Exception as error:  # noqa: BLE001 - listed, not run
            out.append((name, f"(cannot be imported: {error})"))
    return out


def _selected(requested: list[str]) -> list[str] | str:
    """The demos to run, in README order when none is named; an error message for unknown
    names."""
    from ._tour import DEMOS

    if not requested:
        return list(DEMOS)
    unknown = [n for n in requested if n not in DEMOS]
    if unknown:
        return f"unknown demo(s): {', '.join(unknown)}\navailable: {', '.join(DEMOS)}"
    return list(dict.fromkeys(requested))  # the order given, each once


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxneq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    tour = sub.add_parser("tour", help="run the demonstrations, print tables, write figures")
    tour.add_argument("names", nargs="*", metavar="NAME", help="demos to run (default: all)")
    tour.add_argument("--only", nargs="+", metavar="NAME", default=[], help="same as NAME...")
    tour.add_argument("--list", action="store_true", help="list the demos and exit")
    tour.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("jaxneq-tour"),
        help="folder for figures and tour.json (default: ./jaxneq-tour)",
    )
    sizes = tour.add_mutually_exclusive_group()
    sizes.add_argument(
        "--quick", action="store_true", help="small sizes (CI; about a minute on 2 CPU cores)"
    )
    sizes.add_argument("--full", action="store_true", help="large ensembles (for a GPU)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(f"jaxneq {__version__}")
        return 0
    if args.command != "tour":
        parser.print_help(sys.stderr)
        return 2
    if args.list:
        titles = _titles()
        width = max(len(n) for n, _ in titles)
        for name, title in titles:
            print(f"{name.ljust(width)}  {title}")
        return 0
    names = _selected([*args.names, *args.only])
    if isinstance(names, str):
        print(f"jaxneq tour: {names}", file=sys.stderr)
        return 2
    return _tour(names, args.out, args.quick, args.full)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
