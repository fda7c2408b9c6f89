long power(int base, int exp)
{
    long r = 1;
    while (exp-- > 0)
        r *= base;
    return r;
}
