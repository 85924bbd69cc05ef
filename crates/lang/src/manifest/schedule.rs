//! Schedule expressions in EventBridge Scheduler's syntax, and when they fire (UTC).
//!
//! - `rate(N unit)`: every N minutes, hours or days (`minute`/`hour`/`day` when N is 1, the
//!   plural otherwise, as AWS requires). Pure arithmetic needs an origin: a rate fires at the
//!   multiples of its period since 1970-01-01T00:00Z, so `rate(1 hour)` fires on the hour and
//!   `rate(1 day)` at midnight UTC.
//! - `cron(minutes hours day-of-month month day-of-week year)`: the six fields with `*`, `,`,
//!   `-` and `/`; `?` in exactly one of day-of-month and day-of-week; `L` (last day of the
//!   month; alone in day-of-week, Saturday; `nL`, the last weekday `n` of the month), `W`
//!   (`nW`, the weekday nearest day `n` within its month; `LW`, the last weekday of the month)
//!   and `#` (`n#k`, the k-th weekday `n` of the month). Months are 1-12 or `JAN`-`DEC`, days
//!   of the week 1-7 (1 is Sunday) or `SUN`-`SAT`, years 1970-2199.
//!
//! Anything else is an error that says what is not accepted; nothing is read approximately.
//! Calendar arithmetic is the proleptic Gregorian calendar (days-from-civil), with no library.

/// A parsed `rate(…)` or `cron(…)` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// The period, in seconds.
    Rate(i64),
    Cron(Box<Cron>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    /// Bit `m` set: minute `m` (0-59).
    minutes: u64,
    /// Bit `h` set: hour `h` (0-23).
    hours: u32,
    day_of_month: DayOfMonth,
    /// Bit `m` set: month `m` (1-12).
    months: u16,
    day_of_week: DayOfWeek,
    /// `years[y - FIRST_YEAR]`: year `y`.
    years: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`: the day of the week decides.
    Unspecified,
    /// Bit `d` set: day `d` (1-31); a day past the month's end never fires.
    Days(u32),
    /// `L`: the month's last day.
    Last,
    /// `LW`: the month's last weekday (Monday to Friday).
    LastWeekday,
    /// `nW`: the weekday nearest day `n`, within the same month.
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    /// `?`: the day of the month decides.
    Unspecified,
    /// Bit `d` set: day `d` of the week (1 Sunday … 7 Saturday).
    Days(u8),
    /// `nL`: the month's last day `n` of the week.
    Last(u32),
    /// `n#k`: the k-th day `n` of the week in the month.
    Nth(u32, u32),
}

const FIRST_YEAR: i64 = 1970;
const LAST_YEAR: i64 = 2199;
/// How far `next_after` looks ahead, in years.
const HORIZON_YEARS: i64 = 5;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Expression {
    /// Reads `rate(…)` or `cron(…)`; `Err` says what is wrong, in a sentence for a diagnostic.
    pub fn parse(text: &str) -> Result<Expression, String> {
        let text = text.trim();
        let (name, inner) = match text.find('(') {
            Some(open) if text.ends_with(')') => (&text[..open], &text[open + 1..text.len() - 1]),
            _ => {
                return Err(format!(
                    "`{text}` is not `rate(…)` or `cron(…)`, e.g. `rate(5 minutes)` or `cron(0 12 * * ? *)`"
                ))
            }
        };
        match name.trim() {
            "rate" => parse_rate(inner),
            "cron" => parse_cron(inner),
            "at" => Err(
                "one-time `at(…)` schedules are not supported; use `rate(…)` or `cron(…)`".into(),
            ),
            other => Err(format!(
                "`{other}(…)` is not a schedule expression; write `rate(…)` or `cron(…)`"
            )),
        }
    }

    /// The first time the schedule fires strictly after `unix_seconds` (UTC), in UTC seconds;
    /// `None` when it does not fire within about five years (or before the year 2200).
    pub fn next_after(&self, unix_seconds: i64) -> Option<i64> {
        match &self.kind {
            Kind::Rate(period) => unix_seconds
                .div_euclid(*period)
                .checked_add(1)?
                .checked_mul(*period),
            Kind::Cron(cron) => cron.next_after(unix_seconds),
        }
    }
}

fn parse_rate(inner: &str) -> Result<Expression, String> {
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [value, unit] = parts[..] else {
        return Err(format!(
            "`rate({inner})` must be a number and a unit, e.g. `rate(5 minutes)`"
        ));
    };
    let n: i64 = match value.parse::<i64>() {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(format!(
                "`{value}` in `rate({inner})` is not a whole number of at least 1"
            ))
        }
    };
    let (seconds, singular) = match unit {
        "minute" | "minutes" => (60, "minute"),
        "hour" | "hours" => (3600, "hour"),
        "day" | "days" => (86_400, "day"),
        _ => {
            return Err(format!(
                "`{unit}` in `rate({inner})` is not a unit: write `minutes`, `hours` or `days`"
            ))
        }
    };
    if n == 1 && unit != singular {
        return Err(format!(
            "write `rate(1 {singular})`: AWS requires the singular for 1"
        ));
    }
    if n > 1 && unit == singular {
        return Err(format!(
            "write `rate({n} {singular}s)`: AWS requires the plural for more than 1"
        ));
    }
    let period = n
        .checked_mul(seconds)
        .filter(|p| *p <= (LAST_YEAR - FIRST_YEAR) * 366 * 86_400)
        .ok_or_else(|| format!("`rate({inner})` is too long a period"))?;
    Ok(Expression {
        kind: Kind::Rate(period),
    })
}

/// One field's bounds and the names it accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTHS,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &WEEKDAYS,
};
const YEAR: Field = Field {
    name: "year",
    min: FIRST_YEAR as u32,
    max: LAST_YEAR as u32,
    names: &[],
};

fn parse_cron(inner: &str) -> Result<Expression, String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let [minutes, hours, dom, month, dow, year] = fields[..] else {
        return Err(format!(
            "`cron({inner})` has {} field{}; it takes six: minutes hours day-of-month month day-of-week year, e.g. `cron(0 12 * * ? *)`",
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        ));
    };
    let minutes = mask(&MINUTES, minutes)?;
    let hours = mask(&HOURS, hours)? as u32;
    let months = mask(&MONTH, month)? as u16;
    let years = {
        let bits = values(&YEAR, year)?;
        (FIRST_YEAR..=LAST_YEAR)
            .map(|y| bits.contains(&(y as u32)))
            .collect()
    };
    let day_of_month = match dom {
        "?" => DayOfMonth::Unspecified,
        "L" => DayOfMonth::Last,
        "LW" => DayOfMonth::LastWeekday,
        _ if dom.ends_with('W') && !dom[..dom.len() - 1].contains([',', '-', '/', '*', 'L', 'W']) => {
            let day = &dom[..dom.len() - 1];
            let n = number(&DAY_OF_MONTH, day)?;
            DayOfMonth::NearestWeekday(n)
        }
        _ if dom.contains(['L', 'W']) => {
            return Err(format!(
                "`{dom}` in day-of-month is not supported: `L` and `W` are accepted alone as `L`, `LW` or `nW` (e.g. `15W`)"
            ))
        }
        _ => DayOfMonth::Days(mask(&DAY_OF_MONTH, dom)? as u32),
    };
    let day_of_week = match dow {
        "?" => DayOfWeek::Unspecified,
        "L" => DayOfWeek::Days(1 << 7),
        _ if dow.contains([',', '-', '/', '*']) && dow.contains(['L', '#']) => {
            unsupported_day_of_week(dow)?
        }
        _ if dow.ends_with('L') => DayOfWeek::Last(number(&DAY_OF_WEEK, &dow[..dow.len() - 1])?),
        _ if dow.contains('#') => {
            let (day, nth) = dow.split_once('#').unwrap_or_default();
            let day = number(&DAY_OF_WEEK, day)?;
            let nth = match nth.parse::<u32>() {
                Ok(k @ 1..=5) => k,
                _ => {
                    return Err(format!(
                        "`{dow}` in day-of-week: after `#` comes which one of the month, 1 to 5"
                    ))
                }
            };
            DayOfWeek::Nth(day, nth)
        }
        _ if dow.contains(['L', '#']) => unsupported_day_of_week(dow)?,
        _ => {
            if dow.contains('/') {
                return Err(format!(
                    "`{dow}` in day-of-week: `/` is not accepted there (AWS allows `,` `-` `*` `?` `L` `#`)"
                ));
            }
            DayOfWeek::Days(mask(&DAY_OF_WEEK, dow)? as u8)
        }
    };
    match (&day_of_month, &day_of_week) {
        (DayOfMonth::Unspecified, DayOfWeek::Unspecified) => {
            return Err("day-of-month and day-of-week are both `?`; one of them must say which days, e.g. `cron(0 12 * * ? *)`".into())
        }
        (DayOfMonth::Unspecified, _) | (_, DayOfWeek::Unspecified) => {}
        _ => {
            return Err(format!(
                "one of day-of-month (`{dom}`) and day-of-week (`{dow}`) must be `?` (AWS does not take both), e.g. `cron(0 12 * * ? *)` or `cron(0 12 ? * MON-FRI *)`"
            ))
        }
    }
    Ok(Expression {
        kind: Kind::Cron(Box::new(Cron {
            minutes,
            hours,
            day_of_month,
            months,
            day_of_week,
            years,
        })),
    })
}

fn unsupported_day_of_week(dow: &str) -> Result<DayOfWeek, String> {
    Err(format!(
        "`{dow}` in day-of-week is not supported: `L` and `#` are accepted alone as `L`, `nL` or `n#k` (e.g. `6L`, `2#1`)"
    ))
}

/// A field of `*`, values, ranges and steps, as a bit mask (bit `v` for value `v`).
fn mask(field: &Field, text: &str) -> Result<u64, String> {
    Ok(values(field, text)?
        .into_iter()
        .fold(0, |m, v| m | (1 << v)))
}

/// The values a field of `*`, `,`, `-` and `/` selects.
fn values(field: &Field, text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    if text == "?" {
        return Err(format!(
            "`?` is only accepted in day-of-month or day-of-week, not in {}",
            field.name
        ));
    }
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = match step.parse::<u32>() {
                    Ok(s) if s >= 1 => s,
                    _ => {
                        return Err(format!(
                            "`{item}` in {}: after `/` comes a step of at least 1",
                            field.name
                        ))
                    }
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (first, last) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(field, a)?, number(field, b)?);
            if a > b {
                return Err(format!(
                    "`{item}` in {}: the range goes backwards; write it as two ranges (e.g. `{}-{},{}-{}`)",
                    field.name, a, field.max, field.min, b
                ));
            }
            (a, b)
        } else {
            let a = number(field, range)?;
            // `a/step` runs from `a` to the end of the field.
            (a, if step.is_some() { field.max } else { a })
        };
        let step = step.unwrap_or(1) as usize;
        out.extend((first..=last).step_by(step));
    }
    Ok(out)
}

/// One value of a field: a number in range, or a name (`JAN`, `MON`).
fn number(field: &Field, text: &str) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = field.names.iter().position(|n| *n == upper) {
        return Ok(field.min + i as u32);
    }
    if text.is_empty() {
        return Err(format!("an empty value in {}", field.name));
    }
    match text.parse::<u32>() {
        Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
        Ok(v) => Err(format!(
            "{v} is outside {} ({} to {})",
            field.name, field.min, field.max
        )),
        Err(_) if field.names.is_empty() => Err(format!(
            "`{text}` is not a value of {} ({} to {})",
            field.name, field.min, field.max
        )),
        Err(_) => Err(format!(
            "`{text}` is not a value of {} ({} to {}, or {} to {})",
            field.name,
            field.min,
            field.max,
            field.names[0],
            field.names[field.names.len() - 1]
        )),
    }
}

impl Cron {
    fn next_after(&self, unix_seconds: i64) -> Option<i64> {
        // The next whole minute strictly after the given time.
        let start_minute = unix_seconds.div_euclid(60).checked_add(1)?;
        let start_day = start_minute.div_euclid(1440);
        let (y0, m0, d0) = civil_from_days(start_day)?;
        let minute_of_day = start_minute.rem_euclid(1440);
        let (h0, mi0) = ((minute_of_day / 60) as u32, (minute_of_day % 60) as u32);
        let last_year = (y0 + HORIZON_YEARS).min(LAST_YEAR);
        for year in y0.max(FIRST_YEAR)..=last_year {
            if !self.years[(year - FIRST_YEAR) as usize] {
                continue;
            }
            let first_month = if year == y0 { m0 } else { 1 };
            for month in first_month..=12 {
                if self.months & (1 << month) == 0 {
                    continue;
                }
                let same_month = year == y0 && month == m0;
                let first_day = if same_month { d0 } else { 1 };
                for day in first_day..=days_in_month(year, month) {
                    if !self.day_matches(year, month, day) {
                        continue;
                    }
                    let same_day = same_month && day == d0;
                    let first_hour = if same_day { h0 } else { 0 };
                    for hour in first_hour..24 {
                        if self.hours & (1 << hour) == 0 {
                            continue;
                        }
                        let first_minute = if same_day && hour == h0 { mi0 } else { 0 };
                        if let Some(minute) =
                            (first_minute..60).find(|m| self.minutes & (1 << m) != 0)
                        {
                            let days = days_from_civil(year, month, day);
                            return Some(
                                days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60,
                            );
                        }
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, year: i64, month: u32, day: u32) -> bool {
        let last = days_in_month(year, month);
        let weekday = weekday(year, month, day);
        let by_month = match self.day_of_month {
            DayOfMonth::Unspecified => None,
            DayOfMonth::Days(mask) => Some(mask & (1 << day) != 0),
            DayOfMonth::Last => Some(day == last),
            DayOfMonth::LastWeekday => {
                let last_weekday = match self::weekday(year, month, last) {
                    1 => last - 2, // Sunday → Friday
                    7 => last - 1, // Saturday → Friday
                    _ => last,
                };
                Some(day == last_weekday)
            }
            DayOfMonth::NearestWeekday(n) => {
                Some(n <= last && day == nearest_weekday(year, month, n))
            }
        };
        if let Some(matches) = by_month {
            return matches;
        }
        match self.day_of_week {
            DayOfWeek::Unspecified => false,
            DayOfWeek::Days(mask) => mask & (1 << weekday) != 0,
            DayOfWeek::Last(w) => weekday == w && day + 7 > last,
            DayOfWeek::Nth(w, k) => weekday == w && (day - 1) / 7 + 1 == k,
        }
    }
}

/// The weekday (Monday to Friday) nearest day `n` of the month, never leaving the month.
fn nearest_weekday(year: i64, month: u32, n: u32) -> u32 {
    let last = days_in_month(year, month);
    match weekday(year, month, n) {
        7 if n == 1 => 3,        // Saturday the 1st → Monday the 3rd
        7 => n - 1,              // Saturday → Friday
        1 if n == last => n - 2, // Sunday the last → Friday
        1 => n + 1,              // Sunday → Monday
        _ => n,
    }
}

/// Day of the week, 1 (Sunday) to 7 (Saturday), as cron counts.
fn weekday(year: i64, month: u32, day: u32) -> u32 {
    // 1970-01-01 was a Thursday.
    (days_from_civil(year, month, day) + 4).rem_euclid(7) as u32 + 1
}

use flowctl_protocol::calendar::{days_from_civil, days_in_month};

/// The date of a day since 1970-01-01; `None` far outside any schedule.
fn civil_from_days(days: i64) -> Option<(i64, u32, u32)> {
    (days.abs() <= 1_000_000_000).then(|| flowctl_protocol::calendar::civil_from_days(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UTC seconds of a date and time.
    fn at(year: i64, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60
    }

    fn next(expression: &str, after: i64) -> Option<i64> {
        Expression::parse(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
            .next_after(after)
    }

    /// The next `n` times after `after`, as (year, month, day, hour, minute).
    fn times(expression: &str, after: i64, n: usize) -> Vec<(i64, u32, u32, i64, i64)> {
        let e = Expression::parse(expression).unwrap();
        let mut t = after;
        let mut out = Vec::new();
        for _ in 0..n {
            t = e.next_after(t).unwrap();
            let (y, m, d) = civil_from_days(t.div_euclid(86_400)).unwrap();
            let s = t.rem_euclid(86_400);
            out.push((y, m, d, s / 3600, s % 3600 / 60));
        }
        out
    }

    fn error(expression: &str) -> String {
        Expression::parse(expression).expect_err(expression)
    }

    #[test]
    fn weekdays() {
        // The calendar itself is tested in flowctl_protocol::calendar.
        assert_eq!(weekday(1970, 1, 1), 5); // Thursday
        assert_eq!(weekday(2024, 2, 29), 5); // Thursday
        assert_eq!(weekday(2026, 12, 6), 1); // Sunday
        assert_eq!(civil_from_days(2_000_000_000), None);
    }

    #[test]
    fn rates() {
        let t = at(2026, 12, 6, 22, 10) + 3;
        assert_eq!(next("rate(5 minutes)", t), Some(at(2026, 12, 6, 22, 15)));
        assert_eq!(next("rate(1 minute)", t), Some(at(2026, 12, 6, 22, 11)));
        assert_eq!(next("rate(1 hour)", t), Some(at(2026, 12, 6, 23, 0)));
        assert_eq!(next("rate(1 day)", t), Some(at(2026, 12, 7, 0, 0)));
        assert_eq!(next("rate(2 days)", 0), Some(2 * 86_400));
        // Strictly after: a time on the schedule gives the next one.
        assert_eq!(
            next("rate(5 minutes)", at(2026, 1, 1, 0, 5)),
            Some(at(2026, 1, 1, 0, 10))
        );
        assert_eq!(next(" rate( 10  minutes ) ", -1), Some(0));
        assert_eq!(next("rate(1 minute)", i64::MAX), None);
    }

    #[test]
    fn rate_errors() {
        assert!(error("rate(1 minutes)").contains("rate(1 minute)"));
        assert!(error("rate(5 hour)").contains("rate(5 hours)"));
        assert!(error("rate(0 minutes)").contains("at least 1"));
        assert!(error("rate(-3 minutes)").contains("at least 1"));
        assert!(error("rate(5 seconds)").contains("not a unit"));
        assert!(error("rate(5)").contains("a number and a unit"));
        assert!(error("rate(1.5 hours)").contains("whole number"));
        assert!(error("rate(99999999999999 days)").contains("too long"));
        assert!(error("every 5 minutes").contains("`rate(…)` or `cron(…)`"));
        assert!(error("at(2026-01-01T00:00:00)").contains("not supported"));
        assert!(error("crontab(* * * * *)").contains("not a schedule expression"));
    }

    #[test]
    fn cron_basics() {
        let t = at(2026, 12, 6, 22, 10);
        assert_eq!(next("cron(0 3 * * ? *)", t), Some(at(2026, 12, 7, 3, 0)));
        assert_eq!(next("cron(0 23 * * ? *)", t), Some(at(2026, 12, 6, 23, 0)));
        assert_eq!(
            next("cron(10 22 * * ? *)", t),
            Some(at(2026, 12, 7, 22, 10))
        );
        assert_eq!(next("cron(10 22 * * ? *)", t - 1), Some(t));
        assert_eq!(next("cron(* * * * ? *)", t + 59), Some(t + 60));
        assert_eq!(
            times("cron(0/15 * * * ? *)", t, 3),
            [
                (2026, 12, 6, 22, 15),
                (2026, 12, 6, 22, 30),
                (2026, 12, 6, 22, 45)
            ]
        );
        assert_eq!(
            times("cron(*/20 8-9 * * ? *)", t, 4),
            [
                (2026, 12, 7, 8, 0),
                (2026, 12, 7, 8, 20),
                (2026, 12, 7, 8, 40),
                (2026, 12, 7, 9, 0)
            ]
        );
        // 6 December 2026 is a Sunday.
        assert_eq!(
            times("cron(0 9 ? * MON-FRI *)", t, 6),
            [
                (2026, 12, 7, 9, 0),
                (2026, 12, 8, 9, 0),
                (2026, 12, 9, 9, 0),
                (2026, 12, 10, 9, 0),
                (2026, 12, 11, 9, 0),
                (2026, 12, 14, 9, 0)
            ]
        );
        assert_eq!(
            times("cron(30 12 1,15 jan,JUL ? 2027-2028)", t, 5),
            [
                (2027, 1, 1, 12, 30),
                (2027, 1, 15, 12, 30),
                (2027, 7, 1, 12, 30),
                (2027, 7, 15, 12, 30),
                (2028, 1, 1, 12, 30)
            ]
        );
        assert_eq!(next("cron(0 0 1 1 ? 2020)", t), None, "in the past");
        assert_eq!(next("cron(0 0 1 1 ? 2199)", t), None, "beyond five years");
        assert_eq!(next("cron(0 0 1 1 ? 2030)", t), Some(at(2030, 1, 1, 0, 0)));
        assert_eq!(next("cron(0 0 30 2 ? *)", t), None, "never");
        assert_eq!(
            times("cron(0 0 1 */4 ? *)", t, 2),
            [(2027, 1, 1, 0, 0), (2027, 5, 1, 0, 0)]
        );
        assert_eq!(
            times("cron(0 0 5/10 * ? *)", t, 3),
            [
                (2026, 12, 15, 0, 0),
                (2026, 12, 25, 0, 0),
                (2027, 1, 5, 0, 0)
            ]
        );
        assert_eq!(next("cron(0 0 * * ? *)", i64::MAX), None);
        assert_eq!(next("cron(0 0 1 1 ? *)", i64::MIN), None);
    }

    #[test]
    fn leap_years() {
        let t = at(2025, 3, 1, 0, 0);
        assert_eq!(
            times("cron(0 12 29 2 ? *)", t, 2),
            [(2028, 2, 29, 12, 0), (2032, 2, 29, 12, 0)]
        );
        assert_eq!(
            times("cron(0 0 L 2 ? *)", at(2027, 1, 1, 0, 0), 3),
            [
                (2027, 2, 28, 0, 0),
                (2028, 2, 29, 0, 0),
                (2029, 2, 28, 0, 0)
            ]
        );
        // 2100 is not a leap year.
        assert_eq!(
            next("cron(0 0 29 2 ? 2096-2104)", at(2099, 3, 1, 0, 0)),
            Some(at(2104, 2, 29, 0, 0))
        );
        assert_eq!(
            next("cron(0 0 L 2 ? 2100)", at(2099, 12, 1, 0, 0)),
            Some(at(2100, 2, 28, 0, 0))
        );
    }

    #[test]
    fn last_weekday_nearest_and_nth() {
        let t = at(2026, 1, 1, 0, 0);
        assert_eq!(
            times("cron(0 0 L * ? *)", t, 3),
            [
                (2026, 1, 31, 0, 0),
                (2026, 2, 28, 0, 0),
                (2026, 3, 31, 0, 0)
            ]
        );
        // Last weekday: January 2026 ends on a Saturday, May 2026 on a Sunday.
        assert_eq!(
            next("cron(0 0 LW 1 ? 2026)", t),
            Some(at(2026, 1, 30, 0, 0))
        );
        assert_eq!(
            next("cron(0 0 LW 5 ? 2026)", t),
            Some(at(2026, 5, 29, 0, 0))
        );
        assert_eq!(
            next("cron(0 0 LW 6 ? 2026)", t),
            Some(at(2026, 6, 30, 0, 0))
        );
        // Nearest weekday: 15 Feb 2026 is a Sunday → Monday 16; 14 Mar 2026 a Saturday → 13.
        assert_eq!(
            next("cron(0 0 15W 2 ? 2026)", t),
            Some(at(2026, 2, 16, 0, 0))
        );
        assert_eq!(
            next("cron(0 0 14W 3 ? 2026)", t),
            Some(at(2026, 3, 13, 0, 0))
        );
        assert_eq!(next("cron(0 0 3W 3 ? 2026)", t), Some(at(2026, 3, 3, 0, 0)));
        // Never leaves the month: 1 Aug 2026 is a Saturday → Monday 3; 31 May 2026 a Sunday → Friday 29.
        assert_eq!(next("cron(0 0 1W 8 ? 2026)", t), Some(at(2026, 8, 3, 0, 0)));
        assert_eq!(
            next("cron(0 0 31W 5 ? 2026)", t),
            Some(at(2026, 5, 29, 0, 0))
        );
        // 31W in a 30-day month does not fire.
        assert_eq!(next("cron(0 0 31W 6 ? 2026)", t), None);
        // Last Friday of the month (6L), the first Monday (2#1), the fifth Sunday (1#5).
        assert_eq!(
            times("cron(0 12 ? * 6L *)", t, 3),
            [
                (2026, 1, 30, 12, 0),
                (2026, 2, 27, 12, 0),
                (2026, 3, 27, 12, 0)
            ]
        );
        assert_eq!(times("cron(0 12 ? * FRIL *)", t, 1), [(2026, 1, 30, 12, 0)]);
        assert_eq!(
            times("cron(0 12 ? * 2#1 *)", t, 3),
            [
                (2026, 1, 5, 12, 0),
                (2026, 2, 2, 12, 0),
                (2026, 3, 2, 12, 0)
            ]
        );
        assert_eq!(times("cron(0 12 ? * MON#1 *)", t, 1), [(2026, 1, 5, 12, 0)]);
        assert_eq!(
            times("cron(0 0 ? * 1#5 *)", t, 2),
            [(2026, 3, 29, 0, 0), (2026, 5, 31, 0, 0)]
        );
        // `L` alone in day-of-week: Saturday.
        assert_eq!(next("cron(0 0 ? * L *)", t), Some(at(2026, 1, 3, 0, 0)));
        assert_eq!(next("cron(0 0 ? * 7 *)", t), Some(at(2026, 1, 3, 0, 0)));
        assert_eq!(
            next("cron(0 0 ? * SUN,sat *)", t),
            Some(at(2026, 1, 3, 0, 0))
        );
    }

    #[test]
    fn cron_errors() {
        for (expression, says) in [
            ("cron(0 12 * * *)", "it takes six"),
            ("cron(0 12 * * ? * *)", "has 7 fields"),
            ("cron(0 12 * * * *)", "must be `?`"),
            ("cron(0 12 1 * MON *)", "must be `?`"),
            ("cron(0 12 ? * ? *)", "both `?`"),
            ("cron(60 12 * * ? *)", "60 is outside minutes (0 to 59)"),
            ("cron(0 24 * * ? *)", "outside hours"),
            ("cron(0 0 0 * ? *)", "outside day-of-month"),
            ("cron(0 0 32 * ? *)", "outside day-of-month"),
            ("cron(0 0 1 13 ? *)", "outside month"),
            ("cron(0 0 1 FOO ? *)", "JAN to DEC"),
            ("cron(0 0 ? * 8 *)", "outside day-of-week"),
            ("cron(0 0 ? * 0 *)", "outside day-of-week"),
            ("cron(0 0 ? * MOO *)", "SUN to SAT"),
            ("cron(0 0 1 * ? 1969)", "outside year"),
            ("cron(0 0 1 * ? 2200)", "outside year"),
            (
                "cron(0 ? 1 * ? *)",
                "only accepted in day-of-month or day-of-week",
            ),
            ("cron(*/0 * * * ? *)", "step of at least 1"),
            ("cron(0 22-2 * * ? *)", "backwards"),
            ("cron(0 0 ? * MON/2 *)", "`/` is not accepted"),
            ("cron(0 0 L-3 * ? *)", "not supported"),
            ("cron(0 0 1,L * ? *)", "not supported"),
            ("cron(0 0 ? * 2#6 *)", "1 to 5"),
            ("cron(0 0 ? * 2#1,3 *)", "not supported"),
            ("cron(0 0 ? * 1,6L *)", "not supported"),
            ("cron(0 0 ? * L#1 *)", "not a value of day-of-week"),
            ("cron(0 0 W * ? *)", "empty value"),
            ("cron(0 0 1-W * ? *)", "not supported"),
            ("cron(a 0 * * ? *)", "not a value of minutes"),
            ("cron(1, 0 * * ? *)", "empty value"),
            ("cron(0 0 * * ? 2027-)", "empty value"),
        ] {
            let got = error(expression);
            assert!(got.contains(says), "{expression}: {got}");
        }
    }
}
