def nth_largest(xs, n):
    return sorted(xs, reverse=True)[n - 1]
