def chunk_sums(xs, k):
    return [sum(xs[i:i + k]) for i in range(0, len(xs), k)]
