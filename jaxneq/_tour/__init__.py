"""Demonstrations run by `jaxneq tour`.

Each demo is a module in this package with a `NAME` (str), a `TITLE` (str) and a function
`run(out_dir: pathlib.Path, quick: bool) -> dict` that prints nothing, writes its figures
into `out_dir` and returns the numbers worth printing (JSON-serialisable). Register a new
demo by adding its module name to `DEMOS`.
"""

DEMOS: list[str] = [
    "blowtorch_chain",
    "hot_cold",
    "inverse_design",
    "two_temperature",
    "rattling_fit",
    "rattling_typicality",
    "rattling_design",
    "minimum_work",
    "blowtorch_design",
]
