"""The language a stored text is written in, so BM25 can stem it (app/ml/bm25.py).

Detection is lingua-language-detector's (n-gram models of each language; no network), restricted
to the languages Ponte can stem and those it would otherwise confuse with them — the fewer it
weighs, the fewer it confuses a short text with — in its low-accuracy mode: about 30 MiB
resident for the 25 languages (the high-accuracy models take several times that), and about
0.1 ms a title.
On texts of a sentence or more it is right; on a bare title it often is not (measured in
docs/EVALUATION.md, "Languages in lexical matching"), so a text it is not sure of is
``UNDETERMINED`` and is analysed without stemming, as every text was before. A wrong guess costs
little: BM25 analyses both texts of a pair the same way (the indexed row's language), so words
spelt alike still meet; what a right guess adds is that inflections meet ("cuochi", "cuoco").
"""

from __future__ import annotations

import functools

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# ISO 639-1 code → the Snowball stemmer of that language (PyStemmer's name for it).
STEMMERS: dict[str, str] = {
    "en": "english",
    "it": "italian",
    "nl": "dutch",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "pt": "portuguese",
    "ro": "romanian",
    "pl": "polish",
    "ru": "russian",
    "tr": "turkish",
    "ar": "arabic",
    "fa": "persian",
    "sr": "serbian",
}
# Detected, and stored, but analysed unstemmed: languages the programmes' people write in that
# the detector would otherwise force into a stemmed one of the same script (Ukrainian read as
# Russian, Urdu as Arabic, Albanian as French, all at full confidence, since the confidence is
# relative to the languages it weighs).
UNSTEMMED: tuple[str, ...] = ("uk", "bg", "mk", "be", "ur", "sq", "hr", "bs", "so", "sw", "tl")
UNDETERMINED = "und"  # ISO 639-2's code for "not determined": detected, and none was sure
# The detector's relative confidence below which a text counts as undetermined: at 0.5 about a
# sixth of English job titles go undetermined and a third are still misread, a sentence or more
# is read right (docs/EVALUATION.md, "Languages in lexical matching").
MIN_CONFIDENCE = 0.5
# A text's first characters decide its language: a long CV reads the same past its opening.
_SAMPLE_CHARS = 2000


@functools.cache
def _detector() -> LanguageDetector:
    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
        for code in (*STEMMERS, *UNSTEMMED)
    ]
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_low_accuracy_mode()
        .with_preloaded_language_models()
        .build()
    )


def detect_language(text: str | None) -> str:
    """The ISO 639-1 code of the language ``text`` is written in, or ``UNDETERMINED``; BM25
    stems the languages of ``STEMMERS`` and reads the others as written."""
    sample = (text or "")[:_SAMPLE_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return UNDETERMINED
    found = _detector().compute_language_confidence_values(sample)
    if not found or found[0].value < MIN_CONFIDENCE:
        return UNDETERMINED
    return str(found[0].language.iso_code_639_1.name.lower())
