import dataclasses

import pytest

from synovis_lib.profiles import ENV_VAR, PAPER_COUNTS, PROFILES, get_profile


def test_paper_profile_is_the_study(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    p = get_profile("paper")
    assert p.image_size == 224
    assert p.train_counts == (212, 236, 222, 200) == PAPER_COUNTS
    assert p.n_train == 870
    assert (p.epochs, p.batch_size, p.learning_rate) == (11, 32, 1e-4)
    assert p.learn_rate_schedule == "none"  # the study set no LearnRateSchedule
    assert (p.trials, p.folds, p.validation_frequency) == (3, 5, 30)
    assert (p.momentum, p.weight_decay, p.head_lr_factor, p.dropout) == (0.9, 1e-4, 10.0, 0.3)
    assert p.backbone == "vgg16" and p.weights == "imagenet"
    assert p.freeze_backbone is False
    assert p.offline == "raise"


def test_default_is_quick_and_profiles_shrink(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert get_profile().name == "quick"
    ci, quick, paper = PROFILES["ci"], PROFILES["quick"], PROFILES["paper"]
    assert ci.n_train < quick.n_train <= paper.n_train
    assert ci.image_size <= quick.image_size <= paper.image_size
    # ci and quick need no download, so they build the same model online and offline
    for profile in (ci, quick):
        assert profile.weights == "none" or profile.backbone == "efficientnet_lite0"
        assert profile.offline == "raise"  # a fallback would change the model: never silently
        assert profile.learn_rate_schedule == "cosine" and profile.sim_to_real
    assert paper.offline == "raise" and paper.backbone == "vgg16" and not paper.sim_to_real


def test_unknown_profile_and_override_are_named(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="'laptop'"):
        get_profile("laptop")
    with pytest.raises(ValueError, match="epoch"):
        get_profile("ci", epoch=3)
    with pytest.raises(ValueError, match="4 counts"):
        get_profile("ci", train_counts=(1, 2, 3))


def test_overrides_apply_and_profiles_are_frozen(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    p = get_profile("ci", epochs=3, train_counts=[5, 5, 5, 5])
    assert p.epochs == 3 and p.train_counts == (5, 5, 5, 5)
    assert PROFILES["ci"].epochs != 3 or PROFILES["ci"] is not p
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.epochs = 4  # type: ignore[misc]


def test_environment_overrides_and_announces(monkeypatch, capsys):
    monkeypatch.setenv(ENV_VAR, "ci")
    assert get_profile("quick").name == "ci"
    assert "SYNOVIS_PROFILE=ci overrides PROFILE='quick'" in capsys.readouterr().out
    assert get_profile("ci").name == "ci"
    assert capsys.readouterr().out == ""


def test_summary_names_what_matters(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    s = get_profile("paper").summary()
    for part in ("profile=paper", "size=224px", "images=870", "epochs=11", "weights=imagenet"):
        assert part in s
