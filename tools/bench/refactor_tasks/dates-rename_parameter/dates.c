/* dates.c - calendar arithmetic on proleptic Gregorian dates. */

#include "dates.h"

/* Whether YEAR is a leap year. */
int is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* The number of days in MONTH (1-12) of YEAR. */
int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap_year(year))
        return 29;
    return days[month - 1];
}

/* The day of the year of YEAR-MONTH-DAY, 1 for January 1st. */
int day_of_year(int year, int month, int day)
{
    int total = day;
    for (int m = 1; m < month; m++)
        total += days_in_month(year, m);
    return total;
}

/* The day of the week of YEAR-MONTH-DAY, 0 for Sunday (Sakamoto's method). */
int day_of_week(int year, int month, int day)
{
    static const int offsets[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (month < 3)
        year -= 1;
    return (year + year / 4 - year / 100 + year / 400 + offsets[month - 1] + day) % 7;
}

/* The number of days from 1970-01-01 to YEAR-MONTH-DAY, negative before it (Howard Hinnant's
   days_from_civil: years counted from March, in eras of 400 years). */
long days_from_civil(int year, int month, int day)
{
    long y = year - (month <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
