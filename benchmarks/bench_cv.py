"""Speed of the cross-validation and error-analysis helpers (plain script; prints figures).

    .venv/bin/python benchmarks/bench_cv.py

Measures, on one thread: building the study's folds (870 labels, both schemes),
a pixel 1-NN cross-validation of 870 images at 64 px, reading a clinical
image's layout (:func:`synovis_lib.layout.estimate_layout`) and building five
scenes from it (:func:`synovis_lib.redraw.model_after`) at three sizes. The
network's own training speed is measured in the training benchmark.
"""

from __future__ import annotations

import numpy as np
import torch
from timing import best_of

from synovis_lib import cv, layout, redraw
from synovis_lib import ultrasound as us
from synovis_lib.synth import generate_training_set


def main() -> None:
    torch.set_num_threads(1)
    train = generate_training_set(seed=0, size=64)
    groups = train.provenance["basic_scene"].to_numpy()
    print(
        f"folds (870 labels): stratified {best_of(lambda: cv.fold_indices(train.labels, None, 5)):.4f} s, "
        f"grouped {best_of(lambda: cv.fold_indices(train.labels, groups, 5)):.4f} s"
    )
    knn = cv.pixel_fit_predict("knn")
    for name, g in (("stratified", None), ("grouped", groups)):
        seconds = best_of(
            lambda g=g: cv.cross_validate(train.images, train.labels, knn, g, 5, progress=False), 1
        )
        print(f"1-NN pixel CV, {name}: {seconds:.2f} s")
    rng = np.random.default_rng(0)
    scenes = [us.sample_scene(rng, us.sample_examination(rng), 1).scene for _ in range(5)]
    for size in (64, 160, 224):
        images = [us.render_scene(s, size).rgb for s in scenes]
        read = best_of(lambda images=images: [layout.estimate_layout(i) for i in images], 1) / len(
            images
        )
        build = best_of(
            lambda images=images: [redraw.model_after(i, 5, grade=None) for i in images], 1
        )
        print(
            f"{size} px: estimate_layout {1000 * read:.0f} ms/image, "
            f"model_after (5 scenes) {1000 * build / len(images):.0f} ms/image"
        )


if __name__ == "__main__":
    main()
