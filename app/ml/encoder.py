"""The sentence-transformers encoder: loaded once per process from a local folder, never a hub."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BACKENDS = ("openvino", "torch")


def window_tokens(max_seq_length: int) -> int:
    """The tokens of one chunk for a model reading ``max_seq_length``: the share 200 is of the
    default's 256, leaving room for the special tokens and for a tokenizer that splits
    differently (never more than 200: a longer window only blurs its mean)."""
    return max(16, min(200, max_seq_length * 200 // 256)) if max_seq_length else 200


def model_id_of(model_path: str | Path) -> str:
    """The id vectors made from the model folder ``model_path`` are recorded with (its folder's
    name; the package's for a folder named ``model``), known without loading the model."""
    path = Path(model_path)
    return path.resolve().name if path.name != "model" else path.resolve().parent.name


class Encoder:
    """Turns texts into L2-normalised float32 vectors with one sentence-transformers model.

    ``backend="openvino"`` runs the same weights, converted in memory at start-up, through
    OpenVINO: 1.14x the texts per second of plain torch on 600 profiles with identical vectors
    (cosine 1.0000, same nDCG; bench/embedding_backends.py), for about 210 MiB more resident
    memory. Torch is the default and the reference; OpenVINO (the ``openvino`` extra) suits
    ingest-heavy batch work. It needs a transformer + mean pooling model; anything else, a
    missing package or a failed conversion falls back to torch with a warning.
    """

    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        batch_size: int = 32,
        backend: str = "torch",
    ) -> None:
        # Weights come from disk; a missing folder must fail here, not trigger a download.
        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"model folder not found: {model_path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A progress bar on stderr would break the one-JSON-object-per-line logs.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self._model: Any = SentenceTransformer(model_path, device=device)
        self.model_path = model_path
        self.model_id = model_id_of(model_path)
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.max_seq_length = int(self._model.max_seq_length or 0)
        self._tokenizer: Any = self._model.tokenizer
        self._compiled: Any = None
        self.backend = "torch"
        if backend not in BACKENDS:
            raise ValueError(f"unknown encoder backend {backend!r}; known: {', '.join(BACKENDS)}")
        if backend == "openvino" and device == "cpu":
            self._compiled = _openvino(self._model)
            if self._compiled is not None:
                self.backend = "openvino"
                self._model = None  # the torch weights are no longer needed

    @classmethod
    def from_settings(cls, settings: Any) -> Encoder:
        """Builds the encoder the settings describe (model folder, device, backend)."""
        return cls(
            settings.resolved_model_path(),
            settings.model_device,
            backend=settings.encoder_backend,
        )

    def chunk_spans(
        self, text: str, max_tokens: int | None = None, overlap: int | None = None
    ) -> list[tuple[int, int]]:
        """Returns character spans of overlapping windows that each fit the model's input.

        The model reads ``max_seq_length`` tokens (256 for the default model, 128 for some
        multilingual ones); a multi-page CV is cut into windows of what it reads less a margin
        (200 tokens for the default), so that nothing past the first paragraph is lost.
        Windows overlap by a fifth, so a sentence on a border is seen whole.
        """
        if max_tokens is None:
            max_tokens = window_tokens(self.max_seq_length)
        if overlap is None:
            overlap = max_tokens // 5
        if not text.strip():
            return []
        offsets = self._tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )["offset_mapping"]
        if len(offsets) <= max_tokens:
            return [(0, len(text))]
        spans = []
        step = max_tokens - overlap
        for first in range(0, len(offsets), step):
            window = offsets[first : first + max_tokens]
            spans.append((int(window[0][0]), int(window[-1][1])))
            if first + max_tokens >= len(offsets):
                break
        return spans

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Returns one normalised vector per text (blocking: call it from a worker thread)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._compiled is not None:
            return self._encode_compiled(texts)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_compiled(self, texts: list[str]) -> npt.NDArray[np.float32]:
        # As sentence-transformers does: longest first, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            tokens = self._tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feed = {name: tokens[name].astype(np.int64) for name in _INPUTS}
            out[batch] = self._compiled(feed)[0]
        return out


_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def mean_pooled(transformer: Any) -> Any:
    """Returns ``transformer`` wrapped to output mean-pooled, L2-normalised sentence vectors —
    the whole sentence-transformers pipeline of this model family as one graph to convert."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return Pooled().eval()


def _openvino(model: Any) -> Any:
    """Returns the model (transformer, mean pooling, normalisation) compiled by OpenVINO for the
    CPU, or None (with a warning) when it cannot be."""
    import logging
    import warnings

    log = logging.getLogger("ponte.encoder")
    modules = [type(m).__name__ for m in model]
    if (
        modules[:2] != ["Transformer", "Pooling"]
        or getattr(model[1], "pooling_mode", None) != "mean"
    ):
        log.warning(
            "openvino backend needs transformer + mean pooling, got %s: using torch", modules
        )
        return None
    try:
        import openvino
        import torch

        sample = model.tokenizer(["a b", "c d e f"], padding=True, return_tensors="pt")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter on stderr, not for the logs
            converted = openvino.convert_model(
                mean_pooled(model[0].auto_model),
                example_input=tuple(sample[name] for name in _INPUTS),
                input=[openvino.PartialShape([-1, -1])] * len(_INPUTS),
            )
        return openvino.Core().compile_model(converted, "CPU")
    except Exception:  # any failure leaves the torch reference in place
        log.warning("openvino conversion failed: using torch", exc_info=True)
        return None
