"""The optional OpenVINO backend gives the reference vectors, or falls back to torch."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from app.ml.encoder import Encoder

TEXTS = [
    "Aiuto cuoco con tre anni di esperienza in una mensa aziendale.",
    "Magazijnmedewerker met heftruckcertificaat, zoekt een stage in Gent.",
    "Skills: food preparation, kitchen hygiene, knife skills.",
]


def test_unknown_backend_is_refused(settings):
    with pytest.raises(ValueError, match="unknown encoder backend"):
        Encoder(settings.resolved_model_path(), backend="tpu")


@pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None, reason="the openvino extra is not installed"
)
def test_openvino_backend_matches_torch(settings, encoder):
    converted = Encoder(settings.resolved_model_path(), backend="openvino")
    assert converted.backend == "openvino"
    cosine = np.sum(converted.encode(TEXTS) * encoder.encode(TEXTS), axis=1)
    assert cosine.min() > 0.9999
    assert converted.chunk_spans(TEXTS[0] * 50) == encoder.chunk_spans(TEXTS[0] * 50)
