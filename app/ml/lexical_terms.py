"""The terms BM25 indexes (app/ml/bm25.py): a text's words, lower-cased, Snowball-stemmed in
the text's language (app/ml/languages.py) and then accent-folded; and the small codes an index
keeps per row for the language its text was analysed in."""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections import Counter

import Stemmer

from app.ml.languages import STEMMERS, UNDETERMINED

_TOKEN = re.compile(r"\w+")


@functools.cache
def _without_marks() -> dict[int, None]:
    """A translation table deleting every combining mark (built once, on first use; none lies
    beyond the first two planes)."""
    return {cp: None for cp in range(0x20000) if unicodedata.combining(chr(cp))}


def _fold(token: str) -> str:
    return unicodedata.normalize("NFKD", token).translate(_without_marks())


# Stemmer objects are not thread-safe, and indexes are built in worker threads while requests
# score on the event loop: each thread has its own (each keeps a cache of the words it stemmed).
_STEMMERS = threading.local()
# Words each stemmer remembers: a tenant's common words (PyStemmer's default size). 100,000
# words took about 27 MiB a stemmer, per language and thread, which the budget cannot spare.
_STEM_CACHE = 10_000


def _stemmer(language: str) -> Stemmer.Stemmer | None:
    held: dict[str, Stemmer.Stemmer | None] | None = getattr(_STEMMERS, "by_language", None)
    if held is None:
        held = _STEMMERS.by_language = {}
    if language not in held:
        algorithm = STEMMERS.get(language)
        held[language] = Stemmer.Stemmer(algorithm, _STEM_CACHE) if algorithm else None
    return held[language]


def lexical_tokens(text: str, language: str = UNDETERMINED) -> list[str]:
    """The terms BM25 indexes for a text in ``language`` (app/ml/languages.py): lowercase word
    tokens, Snowball-stemmed in that language (none when it is undetermined or has no stemmer),
    then accents folded ("mansioni" and "mansióni" meet). Stemming comes first because the
    stemmers' rules are written for accented spellings."""
    lowered = text.lower()
    plain = lowered.isascii()  # nothing to normalise or fold in plain ASCII, most texts
    if not plain:
        # Composed where a composed letter exists (the stemmers' rules are written for "à",
        # not "a" + a mark); a mark left over ("İ" lowers to "i" + a dot above) would split
        # the word, as \w does not match it, so it goes.
        lowered = unicodedata.normalize("NFC", lowered).translate(_without_marks())
    tokens = _TOKEN.findall(lowered)
    stemmer = _stemmer(language)
    if stemmer is not None:
        tokens = stemmer.stemWords(tokens)
    if plain:
        return tokens
    return [token if token.isascii() else _fold(token) for token in tokens]


def term_counts(text: str | None, language: str = UNDETERMINED) -> Counter[str]:
    """The bag of words BM25 indexes for a text."""
    return Counter(lexical_tokens(text or "", language))


def query_terms(text: str | None, language: str = UNDETERMINED) -> set[str]:
    """The terms of a query analysed as a text in ``language`` (each counted once)."""
    return set(lexical_tokens(text or "", language))


# Analyses as the small codes an index keeps per row, each named by the first language of
# STEMMERS that has it; 0 is undetermined. Languages that share a stemmer share a code, so their
# rows are scored together (one pass, not one per language: Croatian and Serbian profiles).
_NAMED_BY: dict[str, str] = {}  # stemmer → the language its code is named by
for _language, _algorithm in STEMMERS.items():
    _NAMED_BY.setdefault(_algorithm, _language)
LANGUAGE_CODES: tuple[str, ...] = (UNDETERMINED, *_NAMED_BY.values())
_CODE_OF = {
    language: LANGUAGE_CODES.index(_NAMED_BY[algorithm]) for language, algorithm in STEMMERS.items()
}


def language_code(language: str | None) -> int:
    """The code of a stored language's analysis (0, undetermined, for a language Ponte cannot
    stem, and for None)."""
    return _CODE_OF.get(language or UNDETERMINED, 0)
