"""Your own model on a CPU: a 10,000-image folder listed, and the example model's Compare refreshed warm.

    python -m bench.bench_own_model [--repeat 5] [--json bench/results/own_model.json]

1. A folder of 10,000 PNG files in two class sub-folders (written to a temporary folder first, not timed) is
   listed by ``shiftlab.folders.list_folder`` (target 2 s).
2. The example model (``examples/shiftlab-models.toml``: MobileNetV3-Small, 3 classes), declared at 128 px as
   shipped and again at 224 px, on one of its photos and its fog-3 copy: the Compare page's script re-run
   in-process (``AppTest``) with every cache filled, saliency, Grad-CAM and Integrated Gradients (target 2 s
   warm at 224 px). The median of ``--repeat`` runs after one warm-up.

Timings taken beside other jobs are pessimistic; README gives those of a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from bench.browser import REPO
from shiftlab.folders import list_folder

EXAMPLE = REPO / "examples" / "shiftlab-models.toml"
VIEW = {"arch": "pets", "variant": "baseline", "image": "pets-photos:0", "shift": "fog", "severity": "3",
        "seed": "0", "methods": "saliency,gradcam,integrated_gradients"}


def folder_listing_seconds(n: int = 10_000) -> float:
    """Seconds to list a folder of ``n`` small PNGs in two class sub-folders."""
    png = tempfile.NamedTemporaryFile(suffix=".png", delete=False)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(png.name)
    data = Path(png.name).read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(n):
            path = Path(folder) / ("cat" if i % 2 else "dog") / f"{i:05d}.png"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
        start = time.perf_counter()
        listing = list_folder(folder)
        seconds = time.perf_counter() - start
    os.unlink(png.name)
    assert len(listing.files) == n
    return seconds


def models_file_at(size: int, folder: Path) -> Path:
    """The example's models file with the model declared at ``size`` px (weights and photos where they are)."""
    text = EXAMPLE.read_text().replace("input_size = 128", f"input_size = {size}")
    text = text.replace('"weights/', f'"{EXAMPLE.parent}/weights/').replace('"photos"', f'"{EXAMPLE.parent}/photos"')
    path = folder / f"models-{size}.toml"
    path.write_text(text)
    return path


def compare_refresh_seconds(models_file: Path, repeat: int) -> float:
    """Median seconds of a warm re-run of the Compare page on the example's view."""
    os.environ["SHIFTLAB_MODELS"] = str(models_file)
    from shiftlab.models import use_models_file

    use_models_file(models_file)
    app = AppTest.from_file(str(REPO / "app_pages" / "compare.py"), default_timeout=600)
    app.query_params.update(VIEW)
    app.run()
    if app.exception:
        raise RuntimeError(app.exception[0].message)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = {"folder_10000_listed_s": round(folder_listing_seconds(), 3)}
    with tempfile.TemporaryDirectory() as folder:
        for size in (128, 224):
            figures[f"compare_warm_{size}px_s"] = round(compare_refresh_seconds(models_file_at(size, Path(folder)),
                                                                                args.repeat), 2)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
