"""Helpers for cleaning and measuring text."""

import re


def normalize_spaces(text):
    """Collapse runs of white space into single spaces and strip the ends."""
    return re.sub(r"\s+", " ", text).strip()


def word_count(text):
    """The number of words in TEXT."""
    words = normalize_spaces(text).split(" ")
    return len([w for w in words if w])


def truncate(text, width):
    """TEXT cut to WIDTH characters, ending with '...' when it was cut."""
    if len(text) <= width:
        return text
    return text[:width - 3] + "..."


def initials(name):
    """The upper-case initials of a person's NAME."""
    parts = normalize_spaces(name).split(" ")
    return "".join(p[0].upper() for p in parts if p)
