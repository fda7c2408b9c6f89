int count_digits(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s >= '0' && *s <= '9';
    return n;
}
