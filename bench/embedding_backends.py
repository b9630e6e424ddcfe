"""Benchmark: embedding throughput of the default model through every CPU route, side by side.

    .venv/bin/pip install -c constraints.txt -e '.[bench]'    # onnxruntime, openvino, nncf
    .venv/bin/python bench/embedding_backends.py [--texts 600] [--repeats 3]

Routes, all from the same offline weights (nothing is downloaded):
- torch: ``SentenceTransformer.encode(batch_size=32)`` — the plain reference;
- torch int8: PyTorch dynamic quantisation of the Linear layers;
- onnx fp32 / onnx int8: the transformer with mean pooling and normalisation exported once to
  ONNX (``torch.onnx.export``) and run by ONNX Runtime; int8 by ORT's dynamic quantisation;
- openvino fp32 / openvino int8: the same ONNX graph compiled by OpenVINO; int8 by NNCF weight
  compression.

Every route tokenises with the model's own fast tokenizer (max 256 tokens), sorts texts by
length and batches 32, as sentence-transformers does. Texts: ``--texts`` distinct profiles of
60–80 words made from ../shared/eval/esco_dev. Each route is warmed up, then timed over all texts
``--repeats`` times (median). Quality per route: cosine to the plain torch vectors (min and mean)
and nDCG@10 on esco_dev of ranking candidates by cosine (the reference "minilm_cosine" method).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.ml.encoder import mean_pooled  # noqa: E402
from app.ml.evaluation import (  # noqa: E402
    baseline_candidate_text,
    baseline_vacancy_text,
    evaluate,
    rank_by,
)

Encode = Callable[[list[str]], np.ndarray]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def profile_texts(candidates: list[dict[str, Any]], n: int, seed: int = 3) -> list[str]:
    """Returns ``n`` distinct texts of 60–80 words built from the set's profiles."""
    rng = random.Random(seed)
    out: list[str] = []
    seen = set()
    while len(out) < n:
        c = rng.choice(candidates)
        words = baseline_candidate_text(
            c.get("summary", ""), rng.sample(c["skills"], len(c["skills"]))
        ).split()
        while len(words) < 80:
            extra = rng.choice(candidates)
            words += baseline_candidate_text("", extra["skills"]).split()
        text = " ".join(words[: rng.randint(60, 80)])
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def batched(
    tokenizer: Any, run: Callable[[dict[str, np.ndarray]], np.ndarray], max_len: int
) -> Encode:
    """Wraps a graph runner into encode(texts): sort by length, batch 32, restore order."""

    def encode(texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            enc = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_len,
                return_tensors="np",
            )
            out[idx] = run({k: enc[k].astype(np.int64) for k in INPUTS})
        return out

    return encode


def export_onnx(model: Any, path: Path) -> None:
    import torch

    sample = model.tokenizer(["a b", "c d e"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    torch.onnx.export(
        mean_pooled(model[0].auto_model),
        tuple(sample[name] for name in INPUTS),
        str(path),
        input_names=list(INPUTS),
        output_names=["embedding"],
        dynamic_axes={**axes, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def routes(model_path: str, work: Path) -> dict[str, Callable[[], Encode]]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    tokenizer, max_len = model.tokenizer, model.max_seq_length
    onnx_fp32 = work / "model.onnx"
    onnx_int8 = work / "model-int8.onnx"

    def torch_plain() -> Encode:
        return lambda texts: model.encode(texts, batch_size=32)

    def torch_int8() -> Encode:
        import torch

        quantised = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8
        )
        return lambda texts: quantised.encode(texts, batch_size=32)

    def ort(path: Path) -> Encode:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return batched(tokenizer, lambda feed: session.run(None, feed)[0], max_len)

    def onnx(int8: bool) -> Callable[[], Encode]:
        def make() -> Encode:
            if not onnx_fp32.exists():
                export_onnx(model, onnx_fp32)
            if int8 and not onnx_int8.exists():
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(str(onnx_fp32), str(onnx_int8), weight_type=QuantType.QInt8)
            return ort(onnx_int8 if int8 else onnx_fp32)

        return make

    def openvino(int8: bool) -> Callable[[], Encode]:
        def make() -> Encode:
            import openvino as ov

            if not onnx_fp32.exists():
                export_onnx(model, onnx_fp32)
            graph = ov.Core().read_model(str(onnx_fp32))
            if int8:
                import nncf

                graph = nncf.compress_weights(graph, mode=nncf.CompressWeightsMode.INT8_ASYM)
            compiled = ov.Core().compile_model(graph, "CPU")
            return batched(tokenizer, lambda feed: compiled(feed)[0], max_len)

        return make

    return {
        "torch (plain)": torch_plain,
        "torch int8 (dynamic)": torch_int8,
        "onnx fp32": onnx(False),
        "onnx int8": onnx(True),
        "openvino fp32": openvino(False),
        "openvino int8": openvino(True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", default=str(ROOT.parent / "shared" / "eval" / "esco_dev"))
    parser.add_argument("--only", nargs="*", help="route names to run (default: all)")
    args = parser.parse_args()

    folder = Path(args.set)
    candidates = [json.loads(line) for line in (folder / "candidates.jsonl").open()]
    vacancies = [json.loads(line) for line in (folder / "vacancies.jsonl").open()]
    qrels = json.loads((folder / "qrels.json").read_text())
    texts = profile_texts(candidates, args.texts)
    c_ids = [c["external_id"] for c in candidates]
    c_texts = [baseline_candidate_text(c.get("summary", ""), c["skills"]) for c in candidates]
    v_texts = [
        baseline_vacancy_text(v["title"], v.get("description", ""), v["required_skills"])
        for v in vacancies
    ]
    words = [len(t.split()) for t in texts]
    print(f"{len(texts)} distinct texts, {min(words)}–{max(words)} words; {os.cpu_count()} CPUs\n")

    results = []
    reference: np.ndarray | None = None
    with tempfile.TemporaryDirectory() as work:
        for name, make in routes(Settings().resolved_model_path(), Path(work)).items():
            if args.only and name not in args.only:
                continue
            started = time.perf_counter()
            encode = make()
            setup = time.perf_counter() - started
            encode(texts[:64])  # warm-up
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                vectors = encode(texts)
                times.append(time.perf_counter() - started)
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            if reference is None:
                reference = vectors
            cosine = np.sum(vectors * reference, axis=1)
            cv, vv = encode(c_texts), encode(v_texts)
            cv = cv / np.linalg.norm(cv, axis=1, keepdims=True)
            vv = vv / np.linalg.norm(vv, axis=1, keepdims=True)
            rankings = {
                v["external_id"]: rank_by(cv @ vec, c_ids)
                for v, vec in zip(vacancies, vv, strict=True)
            }
            quality = evaluate(rankings, qrels)
            rate = len(texts) / statistics.median(times)
            results.append(
                (name, rate, float(cosine.min()), float(cosine.mean()), quality["ndcg@10"], setup)
            )
            print(f"  {name}: {rate:.1f} texts/s", flush=True)

    base = results[0][1]
    print("\n| route | texts/s | × plain | cosine min | cosine mean | nDCG@10 | set-up s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rate, cmin, cmean, ndcg, setup in results:
        print(
            f"| {name} | {rate:.1f} | {rate / base:.2f} | {cmin:.4f} | {cmean:.4f} "
            f"| {ndcg:.4f} | {setup:.1f} |"
        )


if __name__ == "__main__":
    main()
