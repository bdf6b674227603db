"""The pipeline layer: one key builder, one version table, the data a run was served."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synovis_lib import cache, pipeline
from synovis_lib.profiles import get_profile


def test_artefact_params_name_kind_version_and_only_the_fields_asked():
    profile = get_profile("ci", announce=False)
    params = pipeline.artefact_params("training_set", profile, ("seed", "image_size"), extra=1)
    assert params == {
        "kind": "training_set",
        "version": pipeline.VERSIONS["training_set"],
        "profile": {"seed": 0, "image_size": profile.image_size},
        "extra": 1,
    }
    # a field that is not asked for never changes the key; one that is, does
    other = dataclasses.replace(profile, epochs=7)
    assert cache.cache_key(params) == cache.cache_key(
        pipeline.artefact_params("training_set", other, ("seed", "image_size"), extra=1)
    )
    reseeded = dataclasses.replace(profile, seed=1)
    assert cache.cache_key(params) != cache.cache_key(
        pipeline.artefact_params("training_set", reseeded, ("seed", "image_size"), extra=1)
    )


def test_a_version_bump_changes_only_that_kinds_keys(monkeypatch):
    profile = get_profile("ci", announce=False)
    before = {
        k: cache.cache_key(pipeline.artefact_params(k, profile, ("seed",)))
        for k in pipeline.VERSIONS
    }
    monkeypatch.setitem(pipeline.VERSIONS, "clinic", pipeline.VERSIONS["clinic"] + 1)
    after = {
        k: cache.cache_key(pipeline.artefact_params(k, profile, ("seed",)))
        for k in pipeline.VERSIONS
    }
    assert [k for k in before if before[k] != after[k]] == ["clinic"]


def test_bad_kind_or_field_is_named():
    profile = get_profile("ci", announce=False)
    with pytest.raises(ValueError, match="unknown artefact kind 'images'"):
        pipeline.artefact_params("images", profile, ("seed",))
    with pytest.raises(ValueError, match=r"\['colour'\] are not Profile fields"):
        pipeline.artefact_params("clinic", profile, ("seed", "colour"))


def test_served_data_and_provenance_follow_the_seed(monkeypatch):
    monkeypatch.setattr(pipeline, "_SERVED", {})
    profile = get_profile("ci", announce=False, train_counts=(2, 2, 2, 2))
    first = pipeline.training_set_for(profile)
    record = pipeline.provenance(profile)
    assert record["profile"] == "ci" and record["seed"] == 0
    assert set(record["data"]) == {"training_set"}
    assert record["data"]["training_set"] == pipeline.data_fingerprint(first.images, first.labels)
    reseeded = dataclasses.replace(profile, seed=1)
    second = pipeline.training_set_for(reseeded)
    assert not np.array_equal(first.images, second.images)
    assert pipeline.provenance(reseeded)["data"]["training_set"] != record["data"]["training_set"]
    pipeline.validation_set_for(profile)
    assert set(pipeline.data_served()) == {"training_set", "validation_set"}


def test_profile_clinic_pixels_is_the_one_rule():
    profile = get_profile("ci", announce=False)
    assert profile.clinic_pixels == profile.image_size
    assert dataclasses.replace(profile, clinic_size=96).clinic_pixels == 96
