/* dates.h - calendar arithmetic on proleptic Gregorian dates: year, month (1-12), day (1-31). */
#ifndef DATES_H
#define DATES_H

/* Whether YEAR is a leap year. */
int is_leap_year(int year);
/* The number of days in MONTH of YEAR. */
int days_in_month(int year, int month);
/* The day of the year of YEAR-MONTH-DAY, 1 for January 1st. */
int day_of_year(int year, int month, int day);
/* The day of the week of YEAR-MONTH-DAY, 0 for Sunday. */
int day_of_week(int year, int month, int day);
/* The number of days from 1970-01-01 to YEAR-MONTH-DAY, negative before it. */
long days_from_civil(int year, int month, int day);

#endif
