def to_binary(n):
    return bin(n)[2:]
