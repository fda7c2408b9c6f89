long fibonacci(int n)
{
    long a = 0, b = 1;
    while (n-- > 0) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}
