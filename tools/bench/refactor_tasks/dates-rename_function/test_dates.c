/* test_dates.c - the test of the task dates-rename_function: Rename the function is_leap_year to is_leap. */

#include <assert.h>
#include <stdio.h>

#include "dates.h"

int main(void)
{
    assert(is_leap(2024) && is_leap(2000) && !is_leap(1900) && !is_leap(2023));
    assert(days_in_month(2024, 2) == 29 && days_in_month(2023, 2) == 28 && days_in_month(2023, 4) == 30);
    assert(day_of_year(2023, 1, 1) == 1 && day_of_year(2024, 3, 1) == 61 && day_of_year(2023, 12, 31) == 365);
    assert(day_of_week(1970, 1, 1) == 4 && day_of_week(2000, 2, 29) == 2 && day_of_week(2024, 12, 25) == 3);
    assert(days_from_civil(1970, 1, 1) == 0 && days_from_civil(2000, 3, 1) == 11017);
    assert(days_from_civil(1969, 12, 31) == -1 && days_from_civil(1600, 1, 1) == -135140);
    assert(days_from_civil(2025, 1, 1) - days_from_civil(2024, 1, 1) == 366);
    printf("ok\n");
    return 0;
}
