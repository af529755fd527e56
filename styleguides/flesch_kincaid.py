"""Flesch-Kincaid grade level, and the word and sentence splitting it (and the compliance check)
rests on.

The formula (Kincaid et al., 1975, for the US Navy) estimates the US school grade needed to
understand a text::

    grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

Syllables are counted with the usual English heuristic (groups of vowels, a silent final "e"
dropped, at least one per word), which is within a syllable for most words. It is an estimate
meant for English prose: editors use it to spot text that reads several grades too hard, not to
certify a grade. A well-kept library (textstat) would count the same way but brings a
dictionary we do not need, so the twenty lines live here.

Words and sentences are Unicode-aware (``regex``'s ``\\p{L}`` letters, ``\\p{N}`` digits), and
every span is a pair of Python string offsets into the text as given.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

# A word: letters and digits, with inner apostrophes or hyphens ("don't", "well-known").
WORD = regex.compile(r"[\p{L}\p{N}]+(?:['\u2019\-][\p{L}\p{N}]+)*")
# A sentence ends at ., ! , ?, … (with closing quotes or brackets) before whitespace or the end,
# or at a line break: list items and headings are sentences of their own.
SENTENCE_END = regex.compile(r"[.!?\u2026]+['\"\u2019\u201d)\]]*(?=\s|$)|\n+")
VOWEL_GROUP = regex.compile(r"[aeiouy]+")


@dataclass(frozen=True)
class TextStatistics:
    """Counts the grade is computed from, and the grade itself (``None`` for a text with no words)."""

    words: int
    sentences: int
    syllables: int
    grade: float | None


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every word in ``text``."""
    return [match.span() for match in WORD.finditer(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence that holds at least one word, whitespace trimmed."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for begin, end in spans:
        piece = text[begin:end]
        stripped = piece.strip()
        if not WORD.search(stripped):
            continue
        offset = begin + (len(piece) - len(piece.lstrip()))
        trimmed.append((offset, offset + len(stripped)))
    return trimmed


def syllable_count(word: str) -> int:
    """Syllables in one (English) word, by the vowel-group heuristic; at least 1."""
    folded = unicodedata.normalize("NFKD", word.lower())
    letters = "".join(ch for ch in folded if "a" <= ch <= "z")
    if not letters:
        return 1  # a number or a non-Latin word: count it as one beat
    count = len(VOWEL_GROUP.findall(letters))
    accented_end = not word.lower().endswith("e")  # "café", "résumé": the final é is sounded
    if letters.endswith("e") and not accented_end and not letters.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1  # silent final e: "make", "engine"
    if letters.endswith(("es", "ed")) and count > 1 and not letters.endswith(("tes", "des", "ted", "ded")):
        count -= 1  # "makes", "played" (but "tasted", "sides" keep theirs)
    return max(count, 1)


def text_statistics(text: str) -> TextStatistics:
    """Words, sentences, syllables and the Flesch-Kincaid grade of ``text``."""
    words = [text[start:end] for start, end in word_spans(text)]
    sentences = max(len(sentence_spans(text)), 1)
    syllables = sum(syllable_count(word) for word in words)
    if not words:
        return TextStatistics(words=0, sentences=0, syllables=0, grade=None)
    grade = 0.39 * (len(words) / sentences) + 11.8 * (syllables / len(words)) - 15.59
    return TextStatistics(words=len(words), sentences=sentences, syllables=syllables, grade=round(grade, 1))


def grade_level(text: str) -> float | None:
    """The Flesch-Kincaid grade of ``text``, one decimal; ``None`` when it has no words."""
    return text_statistics(text).grade
