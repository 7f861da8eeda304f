"""How fast the Trust page opens on the view the shipped faithfulness store holds (figures for the README).

    python -m bench.bench_trust [--repeats 5] [--json bench/results/trust.json]

* first render reached from the menu, as ``bench.bench_app`` times every page: a fresh server each run, its home
  page rendered on the stored view (ResNet-20 baseline, gaussian_noise at severity 3, the sample), then the
  Trust entry clicked, timed until the page has finished (chromium, 1400 px); the median of ``--repeats`` runs;
* the page's script alone in a fresh process each run (``AppTest``, after importing torch and Streamlit): its
  first run, and whether it imported the faithfulness metrics (torchvision) or computed anything;
* the page's script re-run warm (its store opened, its figures drawn once), the median of ``--repeats`` runs;
* Compare's first render from the menu on the same view, interleaved with Trust's: a reference taken under the
  same load (README gives its figure on a quiet machine), since these timings move with what else runs.

Timings taken beside other jobs are pessimistic: say so with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.bench_app import VIEW, first_visits_from_menu, warm_rerun
from bench.browser import CHROMIUM, REPO

#: run in a fresh interpreter: the page's first run in-process, what it imported and whether it computed
FRESH_RUN = """
import json, sys, time
import streamlit, torch
from streamlit.testing.v1 import AppTest
from shiftlab.app import caches, trust
computed = []
for module, name in ((caches, "trust_measures"), (caches, "sanity_check"), (trust, "trust_cost"),
                     (trust, "sanity_cost")):
    setattr(module, name, lambda *a, _name=name, **k: computed.append(_name))
at = AppTest.from_file(sys.argv[1], default_timeout=600)
at.query_params.update(json.loads(sys.argv[2]))
start = time.perf_counter()
at.run()
seconds = time.perf_counter() - start
stored = any(c.value.startswith("Read from the shipped store") for c in at.caption)
print(json.dumps({"seconds": seconds, "stored": stored, "computed": computed, "errors": len(at.exception),
                  "faithfulness_imported": "shiftlab.metrics.faithfulness" in sys.modules,
                  "torchvision_imported": "torchvision" in sys.modules}))
"""


def fresh_script_run(query: dict[str, str]) -> dict:
    """The page's first run in a fresh process (``FRESH_RUN``)."""
    done = subprocess.run([sys.executable, "-c", FRESH_RUN, str(REPO / "app_pages" / "trust.py"), json.dumps(query)],
                          cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    query = dict(pair.split("=") for pair in VIEW.split("&"))
    runs = [fresh_script_run(query) for _ in range(args.repeats)]
    figures = {"script_first_run_s": [run["seconds"] for run in runs], "script_runs": runs,
               "script_warm_rerun_s": warm_rerun("trust", args.repeats, **query)}
    print(json.dumps(figures), flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        visits = [first_visits_from_menu(browser, ("trust", "compare"), VIEW) for _ in range(args.repeats)]
        browser.close()
    figures["first_visit_from_menu_s"] = [visit["trust"] for visit in visits]
    figures["compare_first_visit_from_menu_s"] = [visit["compare"] for visit in visits]
    for name in ("script_first_run_s", "first_visit_from_menu_s", "compare_first_visit_from_menu_s"):
        figures[f"{name[:-2]}_median_s"] = statistics.median(figures[name])
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
