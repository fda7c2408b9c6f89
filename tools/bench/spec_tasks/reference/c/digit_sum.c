int digit_sum(long n)
{
    int s = 0;
    while (n > 0) {
        s += (int)(n % 10);
        n /= 10;
    }
    return s;
}
