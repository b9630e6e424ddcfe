"""The sentence-transformers encoder: loaded once per process from a local folder, never a hub."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


class Encoder:
    """Turns texts into L2-normalised float32 vectors with one sentence-transformers model."""

    def __init__(self, model_path: str, device: str = "cpu", batch_size: int = 32) -> None:
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
        self.model_id = (
            Path(model_path).resolve().name
            if Path(model_path).name != "model"
            else (Path(model_path).resolve().parent.name)
        )
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.max_seq_length = int(self._model.max_seq_length or 0)

    def chunk_spans(
        self, text: str, max_tokens: int = 200, overlap: int = 40
    ) -> list[tuple[int, int]]:
        """Returns character spans of overlapping windows that each fit the model's input.

        The model reads 256 tokens; a multi-page CV is cut into windows so that nothing past
        the first paragraph is lost. Windows overlap so a sentence on a border is seen whole.
        """
        if not text.strip():
            return []
        offsets = self._model.tokenizer(
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
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
