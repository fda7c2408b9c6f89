"""Plane geometry on points given as (x, y) tuples."""

import math


def distance(p, q):
    """Euclidean distance between the points P and Q."""
    dx = q[0] - p[0]
    dy = q[1] - p[1]
    return math.sqrt(dx * dx + dy * dy)


def perimeter(points):
    """Perimeter of the closed polygon through POINTS."""
    total = 0.0
    for i in range(len(points)):
        total += distance(points[i], points[(i + 1) % len(points)])
    return total


def circle_area(radius):
    """Area of a circle of RADIUS."""
    return 3.14159 * radius * radius


def centroid(points):
    """The average of POINTS."""
    n = len(points)
    sx = sum(p[0] for p in points)
    sy = sum(p[1] for p in points)
    return (sx / n, sy / n)
