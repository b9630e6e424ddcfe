"""Explanations: why a candidate is where it is, in terms a scout can check.

One readable sentence plus the parts it is made of — skills matched and missing, gate states,
distance, each feature's value and what the ranker made of it (``contributions``, from the
ranker itself, so the explanation stays truthful whatever ranker scored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from app.ml.skills import KIND_NAMES, KIND_SOFT, KIND_TEXT, RequiredSkill, SkillMatrix
from app.ml.taxonomy_match import PairEvidence, Targets, Taxonomy, explain_taxonomy

GateState = Literal["pass", "unknown", "fail"]
_GATE_STATE: dict[int, GateState] = {1: "pass", 0: "unknown", -1: "fail"}


def gate_state(value: int | None) -> GateState:
    """Maps 1 / 0 / -1 to "pass" / "unknown" / "fail"."""
    return _GATE_STATE[0 if value is None else int(value)]


def components(features: Mapping[str, float | None]) -> dict[str, float | None]:
    """The feature values an explanation shows (rounded to four places). A snapshot stores the
    features once, and its explanations are given them again as they are read."""
    return {k: (round(v, 4) if v is not None else None) for k, v in features.items()}


def explain(
    features: Mapping[str, float | None],
    skills: SkillMatrix,
    row: int,
    required: Sequence[RequiredSkill],
    gates: Mapping[str, GateState],
    distance_km: float | None,
    remote: bool,
    contributions: Mapping[str, float | None],
    esco: tuple[Taxonomy, Targets, PairEvidence] | None = None,
) -> dict[str, Any]:
    """Explains one row: the candidate's skills are ``skills``' row ``row``; a matched skill
    names the candidate's label by its position (``matched_index``, None for text evidence);
    ``contributions`` is what the ranker credited each feature with (rounded by the caller, a
    column at a time); ``esco``, what the pair shares through the taxonomy, when it was
    matched through it. The feature values themselves are not copied in: they are the item's
    ``features``, shown as the explanation's ``components`` when it is rendered
    (:func:`components`)."""
    matched: list[dict[str, Any]] = []
    missing: list[str] = []
    must = met = soft = text = 0
    for req, kind, similarity, index in zip(
        required,
        skills.kind[row].tolist(),
        skills.similarity[row].tolist(),
        skills.index[row].tolist(),
        strict=True,
    ):
        if kind:
            matched.append(
                {
                    "required": req.label,
                    "matched_index": index if index >= 0 else None,
                    "kind": KIND_NAMES[kind],
                    "similarity": similarity,
                }
            )
        if req.must_have:
            must += 1
            if not kind:
                missing.append(req.label)
            else:
                met += 1
                soft += kind == KIND_SOFT
                text += kind == KIND_TEXT
    parts = []
    if must:
        how = [f"{soft} by a similar skill"] * bool(soft) + [
            f"{text} from the profile text"
        ] * bool(text)
        parts.append(
            f"meets {met} of {must} must-have skills" + (f" ({', '.join(how)})" if how else "")
        )
    taxonomy_parts, esco_block = explain_taxonomy(*esco) if esco is not None else ([], None)
    parts += taxonomy_parts
    sem = features.get("semantic_best") or 0.0
    parts.append(
        "profile text is a "
        + ("strong" if sem >= 0.6 else "fair" if sem >= 0.4 else "weak")
        + " match for the vacancy"
    )
    if gates.get("language") == "pass":
        parts.append("speaks the required languages")
    elif gates.get("language") == "unknown":
        parts.append("languages not recorded")
    if remote:
        parts.append("remote job")
    elif distance_km is not None:
        parts.append(f"{distance_km:.0f} km away")
    unknown = [g for g, s in gates.items() if s == "unknown" and g != "language"]
    if unknown:
        parts.append("unknown: " + ", ".join(unknown))
    summary = "; ".join(parts)
    summary = summary[0].upper() + summary[1:] + "."
    if missing:
        summary += " Missing: " + ", ".join(missing) + "."
    return {
        "summary": summary,
        "contributions": dict(contributions),
        "matched_skills": matched,
        "missing_skills": missing,
        "gates": dict(gates),
        "distance_km": round(distance_km, 2) if distance_km is not None else None,
        "esco": esco_block,
    }
