"""MATLAB's training rules in PyTorch: iterations, validation points, rates, resume."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from synovis_lib import augment as augment_module
from synovis_lib import get_profile
from synovis_lib import train as train_module
from synovis_lib.augment import augment_batch, doppler_boxes, sample_affine
from synovis_lib.cache import cache_dir
from synovis_lib.model import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_architecture,
    build_model,
    head_of,
    preprocess,
)
from synovis_lib.pipeline import train_for, train_trials
from synovis_lib.train import (
    History,
    TrainingOptions,
    iterations_per_epoch,
    learn_rate_factor,
    load_checkpoint,
    make_optimizer,
    parameter_table,
    plot_training,
    predict,
    train,
    trial_seed,
    validation_iterations,
)


def toy_images(n: int = 32, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey speckle with ``grade + 1`` red squares: a learnable stand-in for Doppler grades."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(20, 120, (n, size, size, 1), dtype=np.uint8)
    images = np.repeat(grey, 3, axis=-1)
    labels = np.arange(n) % 4
    for k, grade in enumerate(labels):
        for _ in range(grade * 2 + 1):
            y, x = rng.integers(2, size - 6, 2)
            images[k, y : y + 4, x : x + 4] = (230, 30, 20)
    return images, labels.astype(np.int64)


def small_options(**kw) -> TrainingOptions:
    base = dict(
        max_epochs=3,
        mini_batch_size=8,
        image_size=32,
        initial_learn_rate=1e-2,
        validation_frequency=4,
    )
    return TrainingOptions(**(base | kw))


def compact(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("compact", "none")[0]


def test_iterations_per_epoch_follow_matlab():
    assert iterations_per_epoch(870, 32) == 27
    assert iterations_per_epoch(870, 32) * 11 == 297
    assert iterations_per_epoch(875, 32) == 27  # the second model's 875 images
    assert iterations_per_epoch(870, 32, drop_last=False) == 28
    with pytest.raises(ValueError, match="fewer than one mini-batch"):
        iterations_per_epoch(20, 32)


def test_validation_points_match_matlab():
    assert validation_iterations(297, 30) == [1, 30, 60, 90, 120, 150, 180, 210, 240, 270, 297]
    assert validation_iterations(60, 30) == [1, 30, 60]
    assert validation_iterations(5, 30) == [1, 5]
    assert validation_iterations(1, 30) == [1]


def test_default_options_are_the_study_and_profiles_map_onto_them():
    study = TrainingOptions()
    assert (study.solver, study.momentum, study.initial_learn_rate) == ("sgdm", 0.9, 1e-4)
    assert (study.max_epochs, study.mini_batch_size, study.l2_regularization) == (11, 32, 1e-4)
    assert (study.shuffle, study.validation_frequency, study.head_lr_factor) == (
        "every-epoch",
        30,
        10.0,
    )
    assert (
        study.drop_last and study.augment and not study.freeze_backbone and study.image_size == 224
    )
    paper = TrainingOptions.from_profile(get_profile("paper", announce=False))
    assert dataclasses.replace(paper, seed=0) == study
    assert (
        TrainingOptions.from_profile(get_profile("paper", announce=False), trial=1).seed
        != paper.seed
    )
    assert trial_seed(0, 2) == trial_seed(0, 2) != trial_seed(1, 2)
    assert TrainingOptions().matlab_table()["same"].all()
    with pytest.raises(ValueError, match="shuffle"):
        TrainingOptions(shuffle="sometimes")
    with pytest.raises(ValueError, match="solver"):
        TrainingOptions(solver="adam")
    with pytest.raises(ValueError, match="learn_rate_schedule"):
        TrainingOptions(learn_rate_schedule="step")
    quick = TrainingOptions.from_profile(get_profile("quick", announce=False))
    assert quick.learn_rate_schedule == "cosine" and study.learn_rate_schedule == "none"


def test_cosine_schedule_falls_to_zero_every_group_alike():
    options = small_options(max_epochs=3, learn_rate_schedule="cosine")
    assert learn_rate_factor(options, 0, 12) == 1.0
    assert learn_rate_factor(options, 6, 12) == pytest.approx(0.5)
    assert learn_rate_factor(options, 11, 12) == pytest.approx((1 + np.cos(np.pi * 11 / 12)) / 2)
    assert {learn_rate_factor(small_options(), k, 12) for k in range(12)} == {1.0}
    images, labels = toy_images(32)
    model = compact()
    history = train(model, images, labels, options, progress=False)
    rates = np.array(history.learn_rate)
    assert len(rates) == 12 and rates[0] == options.initial_learn_rate
    assert np.all(np.diff(rates) < 0) and rates[-1] < 0.02 * rates[0]
    constant = train(compact(), images, labels, small_options(max_epochs=3), progress=False)
    assert set(constant.learn_rate) == {small_options().initial_learn_rate}
    optimizer = make_optimizer(model, options)
    train_module._set_learn_rate(optimizer, options, 6, 12)
    rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert rates["new layer"] == pytest.approx(10 * rates["backbone"])
    assert rates["backbone"] == pytest.approx(0.5 * options.initial_learn_rate)


def test_new_layer_gets_exactly_ten_times_the_rate_for_weights_and_biases():
    model = compact()
    options = TrainingOptions(initial_learn_rate=3e-4)
    groups = {g["name"]: g for g in make_optimizer(model, options).param_groups}
    assert set(groups) == {
        "backbone",
        "new layer",
        "new layer biases",
    }  # compact convs have no bias
    head_weight, head_bias = head_of(model)[0].weight, head_of(model)[0].bias
    assert groups["new layer"]["params"] == [head_weight]
    assert groups["new layer biases"]["params"] == [head_bias]
    assert groups["new layer"]["lr"] == groups["new layer biases"]["lr"] == 10 * 3e-4
    assert groups["backbone"]["lr"] == 3e-4
    assert groups["new layer"]["weight_decay"] == groups["backbone"]["weight_decay"] == 1e-4
    assert groups["new layer biases"]["weight_decay"] == 0.0  # MATLAB BiasL2Factor = 0
    listed = [p for g in groups.values() for p in g["params"]]
    assert len(listed) == len({id(p) for p in listed}) == len(list(model.parameters()))


def test_vgg16_groups_and_frozen_backbone():
    model = build_architecture("vgg16", empty=True)
    table = parameter_table(model, make_optimizer(model, TrainingOptions()))
    rates = dict(zip(table["parameter"], table["learning rate"], strict=True))
    assert rates["classifier.6.0.weight"] == rates["classifier.6.0.bias"] == pytest.approx(1e-3)
    assert rates["features.0.weight"] == rates["classifier.0.bias"] == pytest.approx(1e-4)
    assert table["count"].sum() == 134_276_932
    for p in model.features.parameters():
        p.requires_grad_(False)
    frozen = parameter_table(model, make_optimizer(model, TrainingOptions()))
    assert set(frozen.loc[frozen["parameter"].str.startswith("features"), "group"]) == {"frozen"}


def test_preprocess_resizes_and_normalises_like_imagenet():
    images = np.zeros((2, 10, 20, 3), dtype=np.uint8)
    images[1] = 255
    x = preprocess(images, 16)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
    white = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(x[1, :, 5, 5], white)
    with pytest.raises(ValueError, match="uint8"):
        preprocess(images.astype(np.float32), 16)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        preprocess(images[..., :2], 16)


def test_doppler_boxes_find_coloured_pixels_only():
    images = np.full((2, 20, 40, 3), 90, dtype=np.uint8)
    images[0, 5:10, 30:40] = (255, 40, 0)
    boxes = doppler_boxes(images)
    np.testing.assert_allclose(boxes[0], [2 * 30 / 40 - 1, 1.0, 2 * 5 / 20 - 1, 2 * 10 / 20 - 1])
    assert np.isnan(boxes[1]).all()


def _forward_box(theta: torch.Tensor, box: np.ndarray) -> np.ndarray:
    """Where the box's corners land: invert ``in = A out + b``."""
    a, b = theta[:2, :2].double().numpy(), theta[:, 2].double().numpy()
    corners = np.array([[box[0], box[2]], [box[1], box[2]], [box[0], box[3]], [box[1], box[3]]])
    return (np.linalg.inv(a) @ (corners - b).T).T


def test_augmentation_never_moves_doppler_out_of_the_picture():
    rng = np.random.default_rng(0)
    lo = rng.uniform(-1, 1, (3000, 2))
    hi = np.minimum(lo + rng.uniform(0, 2, (3000, 2)), 1.0)
    boxes = np.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], axis=1)
    boxes[:5] = [-1, 1, -1, 1]  # Doppler reaching every edge: only a shrink or no move fits
    gen = torch.Generator().manual_seed(0)
    for max_shift in (0.1, 0.5):
        thetas = sample_affine(boxes, gen, max_shift=max_shift, scale=(0.8, 1.2))
        for theta, box in zip(thetas, boxes, strict=True):
            assert np.all(np.abs(_forward_box(theta, box)) <= 1 + 1e-5)
    scales = 1 / thetas[:, 1, 1]
    flips = torch.sign(thetas[:, 0, 0])
    assert scales.min() < 0.85 and scales.max() > 1.15
    assert 0.4 < (flips < 0).float().mean() < 0.6
    assert torch.all(torch.abs(thetas[:, 1, 2] * scales) <= 2 * 0.5 + 1e-6)


def test_augmented_images_keep_their_doppler_signal():
    images = np.full((64, 48, 48, 3), 60, dtype=np.uint8)
    images[:, 1:9, 38:47] = (250, 20, 10)  # a Doppler patch at the top-right edge
    x = preprocess(images, 48)
    theta = sample_affine(doppler_boxes(images), torch.Generator().manual_seed(3), max_shift=0.3)
    out = augment_batch(x, theta)
    rgb = out * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(
        1, 3, 1, 1
    )
    area_before = 8 * 9
    area_after = ((rgb[:, 0] - rgb[:, 1]) > 0.4).flatten(1).sum(1).float()
    ratio = area_after / (area_before * (1 / theta[:, 1, 1]) ** 2)
    assert torch.all(ratio > 0.75) and torch.all(ratio < 1.3)
    # the new border is black (the ultrasound background), not grey
    assert float(rgb.min()) == pytest.approx(0.0, abs=1e-5)


def test_tiny_model_overfits_a_few_images():
    images, labels = toy_images(16)
    model = compact()
    options = small_options(max_epochs=40, augment=False, mini_batch_size=8)
    history = train(model, images, labels, options, progress=False)
    assert len(history.loss) == 80
    assert np.mean(history.loss[-10:]) < 0.5 * np.mean(history.loss[:5])
    assert np.mean(history.accuracy[-10:]) > np.mean(history.accuracy[:5]) + 0.3
    probs = predict(model, images, image_size=32)
    assert (probs.argmax(1) == labels).mean() >= 0.9


def test_history_records_matlab_validation_points():
    images, labels = toy_images(36)
    options = small_options(max_epochs=2, validation_frequency=3)
    history = train(
        compact(),
        images,
        labels,
        options,
        val_images=images[:8],
        val_labels=labels[:8],
        progress=False,
    )
    assert history.iterations_per_epoch == 4 and history.iteration == list(range(1, 9))
    assert history.epoch == [1, 1, 1, 1, 2, 2, 2, 2]
    assert history.val_iteration == [1, 3, 6, 8]
    frame = history.frame()
    assert frame["val_accuracy"].notna().sum() == 4 and len(frame) == 8
    assert History.from_dict(history.to_dict()) == history
    fig = plot_training(history, "toy")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3


@pytest.mark.parametrize(("sim_to_real", "schedule"), [(False, "none"), (True, "cosine")])
def test_resume_after_interruption_gives_identical_weights(tmp_path, sim_to_real, schedule):
    images, labels = toy_images(32)
    # 4 iterations per epoch, 12 in all; sim-to-real draws each batch from a seeded generator
    options = small_options(
        max_epochs=3, augment=True, sim_to_real=sim_to_real, learn_rate_schedule=schedule
    )
    reference = compact()
    full = train(reference, images, labels, options, progress=False)

    ckpt = tmp_path / "run.pt"
    interrupted = compact()
    part = train(interrupted, images, labels, options, checkpoint=ckpt, max_steps=5, progress=False)
    assert part.iteration[-1] == 5
    state = torch.load(ckpt, weights_only=True)
    assert state["iteration"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # atomic: no temp files left

    resumed = compact(seed=123)  # different init: everything must come from the checkpoint
    history = train(resumed, images, labels, options, checkpoint=ckpt, resume=True, progress=False)
    assert history.iteration == full.iteration and history.loss == full.loss
    assert history.learn_rate == full.learn_rate
    for (name, a), b in zip(
        reference.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert load_checkpoint(ckpt)["iteration"] == 12

    with pytest.raises(ValueError, match="different TrainingOptions"):
        train(
            compact(),
            images,
            labels,
            small_options(max_epochs=4),
            checkpoint=ckpt,
            resume=True,
            progress=False,
        )


def test_callback_can_stop_training():
    images, labels = toy_images(32)
    history = train(
        compact(), images, labels, small_options(), callback=lambda it, h: it == 3, progress=False
    )
    assert history.iteration == [1, 2, 3]


def test_frozen_backbone_trains_only_the_new_layer():
    images, labels = toy_images(32)
    model = compact()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, images, labels, small_options(freeze_backbone=True, max_epochs=1), progress=False)
    after = model.state_dict()
    assert all(
        torch.equal(before[k], after[k]) for k in before if not k.startswith("classifier.0.")
    )
    assert not torch.equal(before["classifier.0.0.weight"], after["classifier.0.0.weight"])


@pytest.mark.parametrize("freeze", [False, True])
def test_sim_to_real_uses_a_new_drawing_every_epoch(monkeypatch, freeze):
    images, labels = toy_images(32)
    seen = []
    real = train_module._Data.batch

    def spy(self, idx, epoch):
        x = real(self, idx, epoch)
        seen.append((epoch, idx.clone(), x.clone()))
        return x

    monkeypatch.setattr(train_module._Data, "batch", spy)
    options = small_options(freeze_backbone=freeze, sim_to_real=True, max_epochs=2)
    history = train(compact(), images, labels, options, progress=False)
    assert history.seconds > 0 and {e for e, *_ in seen} == {0, 1}

    def by_image(epoch):
        rows = {}
        for e, idx, x in seen:
            if e == epoch:
                rows.update({int(i): x[k] for k, i in enumerate(idx)})
        return rows

    first, second = by_image(0), by_image(1)
    shared = sorted(set(first) & set(second))
    assert shared and any(not torch.equal(first[i], second[i]) for i in shared)


def test_drawings_depend_only_on_the_image():
    images, _ = toy_images(6)
    a = augment_module.drawings(images, None, 3)
    b = augment_module.drawings(images[::-1].copy(), None, 3)[::-1]
    assert a.shape == (6, 3, 32, 32, 3) and np.array_equal(a, b)
    assert not np.array_equal(a[:, 0], a[:, 1])  # three different drawings of each image


def test_bad_training_input_is_named():
    images, labels = toy_images(16)
    with pytest.raises(ValueError, match="16 images but 15 labels"):
        train(compact(), images, labels[:15], small_options(), progress=False)
    with pytest.raises(ValueError, match=r"grades 0\.\.3"):
        train(compact(), images, labels + 1, small_options(), progress=False)


def test_predict_returns_probabilities_for_arrays_and_tensors():
    images, _ = toy_images(10)
    model = compact()
    probs = predict(model, images, image_size=32, batch_size=4)
    assert probs.shape == (10, 4)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(predict(model, torch.from_numpy(images), image_size=32), probs)
    np.testing.assert_allclose(predict(model, preprocess(images, 32)), probs, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        predict(model, torch.zeros(2, 32, 32))


def test_train_for_caches_and_records_weights(monkeypatch):
    profile = get_profile("ci", announce=False, epochs=2, batch_size=8)
    images, labels = toy_images(24)
    data = SimpleNamespace(images=images, labels=labels)
    first = train_for(profile, data, progress=False)
    assert first.weights.backbone == "compact" and first.weights.weights == "none (random init)"
    assert first.options.image_size == profile.image_size and first.profile == "ci"
    monkeypatch.setattr(
        "synovis_lib.pipeline.fit_profile", lambda *a, **k: pytest.fail("cache was not used")
    )
    again = train_for(profile, data, progress=False)
    for a, b in zip(
        first.model.state_dict().values(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert again.history == first.history and again.weights == first.weights
    np.testing.assert_array_equal(again.predict(images), first.predict(images))


def test_train_for_resumes_an_interrupted_run_to_the_same_weights(monkeypatch):
    from synovis_lib import train as train_module

    profile = get_profile("ci", announce=False, epochs=3, batch_size=8, seed=5)
    images, labels = toy_images(24)  # 3 iterations per epoch, a checkpoint after each epoch
    data = SimpleNamespace(images=images, labels=labels)
    fresh = train_for(profile, data, val_set=None, progress=False, use_cache=False)
    real = train_module.train

    def closed_laptop(*args, **kwargs):
        def stop(iteration, history):
            if iteration == 5:
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "callback": stop})

    monkeypatch.setattr(train_module, "train", closed_laptop)
    with pytest.raises(KeyboardInterrupt):
        train_for(profile, data, val_set=None, progress=False)
    partial = list(cache_dir().glob("models/*.partial.pt"))
    assert len(partial) == 1 and torch.load(partial[0], weights_only=True)["iteration"] == 3
    monkeypatch.setattr(train_module, "train", real)
    resumed = train_for(profile, data, val_set=None, progress=False)
    assert resumed.history.iteration == fresh.history.iteration
    for a, b in zip(
        fresh.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert not partial[0].exists()  # finished: only the cached model is left


def test_train_for_without_pretrained_weights_ignores_freeze(monkeypatch):
    profile = get_profile("ci", announce=False, epochs=1, batch_size=8, freeze_backbone=True)
    images, labels = toy_images(16)
    trained = train_for(
        profile, SimpleNamespace(images=images, labels=labels), progress=False, use_cache=False
    )
    assert not trained.options.freeze_backbone
    assert "freeze_backbone ignored" in trained.summary()


def test_trials_have_their_own_seeds_and_a_mean_sd_summary():
    profile = get_profile("ci", announce=False, epochs=1, batch_size=8)
    images, labels = toy_images(24)
    data = SimpleNamespace(images=images, labels=labels)
    result = train_trials(
        profile, data, val_set=data, trials=2, evaluate=lambda t: {"n": 1.0}, progress=False
    )
    assert list(result.table["trial"]) == [0, 1] and result.table["seed"].nunique() == 2
    a, b = (m.model.state_dict()["classifier.0.0.weight"] for m in result.models)
    assert not torch.equal(a, b)
    summary = result.summary()
    assert {"val_accuracy", "n", "seconds"} <= set(summary.index)
    assert summary.loc["n", "mean ± sd"] == "1.000 ± 0.000"


def _clinic_folder(path, images, grades):
    from PIL import Image

    path.mkdir()
    rows = []
    for k, (image, grade) in enumerate(zip(images, grades, strict=True)):
        Image.fromarray(image).save(path / f"img{k}.png")
        second = grade if k != 1 else (grade + 1) % 4  # one disagreement, no third rater yet
        rows.append(f"img{k}.png,p{k // 2},{grade},{second},,")
    (path / "labels.csv").write_text(
        "image,patient_id,rater_1,rater_2,rater_3,true_grade\n" + "\n".join(rows) + "\n"
    )


def test_cli_train_writes_metrics_predictions_weights_and_figures(tmp_path):
    from synovis_lib import cli, files
    from synovis_lib.imagefolder import write_image_folder
    from synovis_lib.synth import TrainingSet

    images, labels = toy_images(24)
    provenance = pd.DataFrame({"id": [f"toy{k}" for k in range(24)], "grade": labels})
    write_image_folder(TrainingSet(images, labels, provenance), tmp_path / "data")
    _clinic_folder(tmp_path / "clinic", images[:6], labels[:6])
    out = tmp_path / "out"
    argv = ["train", "--profile", "ci", "--data", str(tmp_path / "data"), "--out", str(out)]
    with pytest.warns(UserWarning, match="1 of 6 images have no consensus grade"):
        assert cli.main([*argv, "--clinic", str(tmp_path / "clinic"), "--trials", "2"]) == 0
    metrics = files.read_json(out / "metrics.json")
    assert metrics["profile"] == "ci" and metrics["reference"] == "consensus"
    assert metrics["weights"] == "model=compact weights=none (random init)"
    assert len(metrics["trials"]) == 2 and 0 <= metrics["mean"]["test_accuracy"] <= 1
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 2 * 6  # img1 has no consensus: listed, not scored
    unscored = predictions[predictions["image"] == "img1.png"]
    assert unscored["reference"].isna().all() and unscored["reason"].notna().all()
    np.testing.assert_allclose(predictions.filter(like="p_grade_").sum(axis=1), 1.0, rtol=1e-5)
    assert [w["device"] for w in files.read_json(out / "weights.json")] == ["cpu", "cpu"]
    # Without --clinic the test set is the simulated clinical cohort, not artificial images.
    assert cli.main([*argv[:-1], str(tmp_path / "out2"), "--trials", "1"]) == 0
    default = files.read_json(tmp_path / "out2" / "metrics.json")
    assert default["reference"] == "consensus (simulated clinical cohort)"
    assert set(pd.read_csv(tmp_path / "out2" / "predictions.csv")["image"]) <= {
        f"p{p:03d}_img{i}.png" for p in range(1, 75) for i in range(1, 5)
    }
    assert {p.name for p in (out / "figures").iterdir()} == {
        "training_trial0.png",
        "training_trial1.png",
        "confusion_trial0.png",
        "confusion_trial1.png",
    }


def test_read_image_folder_errors_name_the_problem(tmp_path):
    from synovis_lib.imagefolder import read_image_folder

    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_image_folder(tmp_path / "nowhere")
    (tmp_path / "a" / "grade_7").mkdir(parents=True)
    (tmp_path / "a" / "grade_7" / "x.png").write_bytes(b"")
    with pytest.raises(ValueError, match="grade_7: class folders must be named"):
        read_image_folder(tmp_path / "a")
    (tmp_path / "b" / "grade_2").mkdir(parents=True)
    (tmp_path / "b" / "grade_2" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image"):
        read_image_folder(tmp_path / "b")


def test_training_labels_must_hold_two_grades_and_a_missing_grade_is_named():
    from synovis_lib.train import check_training_labels

    with pytest.raises(ValueError, match=r"only grade 0 \(12 images\): a classifier needs"):
        check_training_labels(np.zeros(12, dtype=np.int64))
    with pytest.raises(ValueError, match="empty"):
        check_training_labels(np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match=r"grades 0..3, found \[0, 4\]"):
        check_training_labels(np.array([0, 4]))
    with pytest.warns(
        UserWarning, match=r"no image of grade 2, 3 \(images per grade 0..3: \[2, 1, 0, 0\]\)"
    ):
        check_training_labels(np.array([0, 0, 1]))
