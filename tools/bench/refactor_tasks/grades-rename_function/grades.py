"""Course grades."""


def average(scores):
    """Mean of SCORES, 0.0 for none."""
    if not scores:
        return 0.0
    return sum(scores) / len(scores)


def letter(score):
    """The letter grade of a numeric SCORE out of 100."""
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    return "F"


def passed(scores):
    """Whether the average of SCORES reaches the pass mark."""
    return average(scores) >= 60


def summary(students):
    """Lines 'name: letter' for a dict of name -> list of scores."""
    lines = []
    for name, scores in sorted(students.items()):
        lines.append(f"{name}: {letter(average(scores))}")
    return lines
