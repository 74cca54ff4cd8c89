//! The calendar (1950–2049) and the written forms of a date.

/// A date as (year, month 1–12, day 1–31).
pub type Date = (i32, u32, u32);

/// The first year the task draws from; two-digit years 50–99 mean 19xx.
pub const FIRST_YEAR: i32 = 1950;
/// The last year the task draws from; two-digit years 00–49 mean 20xx.
pub const LAST_YEAR: i32 = 2049;
/// The number of days from 1950-01-01 to 2049-12-31.
pub(super) const DAYS: usize = 36_525;

/// A way of writing a date. Every form determines the date uniquely within 1950–2049: a `/`
/// always means month/day/year (US), a `.` always day.month.year, and a two-digit year 50–99
/// is 19xx, 00–49 is 20xx. The examples are 1999-03-03.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateForm {
    /// "the 3rd of March 1999"
    TheOrdinalOfMonth,
    /// "3rd of March 1999"
    OrdinalOfMonth,
    /// "March 3, 1999"
    MonthDay,
    /// "March 3rd, 1999"
    MonthOrdinal,
    /// "Mar 3 1999"
    AbbrevMonthDay,
    /// "Mar. 3, 1999" (May, already short, keeps no dot: "May 3, 1999")
    AbbrevDotMonthDay,
    /// "3 March 1999"
    DayMonth,
    /// "3 Mar 1999"
    DayAbbrevMonth,
    /// "Wednesday, March 3, 1999", with the right weekday
    WeekdayMonthDay,
    /// "3/3/99" (month/day/two-digit year)
    SlashShort,
    /// "03/03/1999" (month/day/year)
    SlashPadded,
    /// "3.3.1999" (day.month.year)
    DotShort,
    /// "03.03.1999" (day.month.year)
    DotPadded,
    /// "1999-03-03", the target itself
    Iso,
    /// "MARCH 3, 1999"
    UpperMonthDay,
    /// "march 3, 1999"
    LowerMonthDay,
    /// "一九九九年三月三日": the year digit by digit (〇 for zero), month and day in words
    ZhWords,
    /// "1999年3月3日"
    ZhDigits,
    /// "九九年三月三日": a two-digit year in words
    ZhShortYear,
    /// "一九九九年三月三号": 号 for the day, as in speech
    ZhHao,
    /// "1999年03月03日"
    ZhPadded,
}

/// Every form, in declaration order.
pub const FORMS: &[DateForm] = &[
    DateForm::TheOrdinalOfMonth,
    DateForm::OrdinalOfMonth,
    DateForm::MonthDay,
    DateForm::MonthOrdinal,
    DateForm::AbbrevMonthDay,
    DateForm::AbbrevDotMonthDay,
    DateForm::DayMonth,
    DateForm::DayAbbrevMonth,
    DateForm::WeekdayMonthDay,
    DateForm::SlashShort,
    DateForm::SlashPadded,
    DateForm::DotShort,
    DateForm::DotPadded,
    DateForm::Iso,
    DateForm::UpperMonthDay,
    DateForm::LowerMonthDay,
    DateForm::ZhWords,
    DateForm::ZhDigits,
    DateForm::ZhShortYear,
    DateForm::ZhHao,
    DateForm::ZhPadded,
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SHORT: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const ZH_DIGITS: [char; 10] = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// The date as ISO 8601, `YYYY-MM-DD`: the task's target.
pub fn iso(date: Date) -> String {
    let (y, m, d) = date;
    format!("{y:04}-{m:02}-{d:02}")
}

/// The date written in `form`. Meant for valid dates in 1950–2049 (see [`is_valid_date`]);
/// anything else renders without panicking but not necessarily meaningfully.
pub fn render(date: Date, form: DateForm) -> String {
    let (y, m, d) = date;
    let yy = y.rem_euclid(100);
    match form {
        DateForm::TheOrdinalOfMonth => format!("the {} of {} {y}", ordinal(d), month(m)),
        DateForm::OrdinalOfMonth => format!("{} of {} {y}", ordinal(d), month(m)),
        DateForm::MonthDay => format!("{} {d}, {y}", month(m)),
        DateForm::MonthOrdinal => format!("{} {}, {y}", month(m), ordinal(d)),
        DateForm::AbbrevMonthDay => format!("{} {d} {y}", month_short(m)),
        DateForm::AbbrevDotMonthDay => {
            let dot = if m == 5 { "" } else { "." };
            format!("{}{dot} {d}, {y}", month_short(m))
        }
        DateForm::DayMonth => format!("{d} {} {y}", month(m)),
        DateForm::DayAbbrevMonth => format!("{d} {} {y}", month_short(m)),
        DateForm::WeekdayMonthDay => format!("{}, {} {d}, {y}", WEEKDAYS[weekday(date)], month(m)),
        DateForm::SlashShort => format!("{m}/{d}/{yy:02}"),
        DateForm::SlashPadded => format!("{m:02}/{d:02}/{y:04}"),
        DateForm::DotShort => format!("{d}.{m}.{y}"),
        DateForm::DotPadded => format!("{d:02}.{m:02}.{y:04}"),
        DateForm::Iso => iso(date),
        DateForm::UpperMonthDay => format!("{} {d}, {y}", month(m).to_uppercase()),
        DateForm::LowerMonthDay => format!("{} {d}, {y}", month(m).to_lowercase()),
        DateForm::ZhWords => format!("{}年{}月{}日", zh_digits(&y.to_string()), zh_number(m), zh_number(d)),
        DateForm::ZhDigits => format!("{y}年{m}月{d}日"),
        DateForm::ZhShortYear => format!("{}年{}月{}日", zh_digits(&format!("{yy:02}")), zh_number(m), zh_number(d)),
        DateForm::ZhHao => format!("{}年{}月{}号", zh_digits(&y.to_string()), zh_number(m), zh_number(d)),
        DateForm::ZhPadded => format!("{y}年{m:02}月{d:02}日"),
    }
}

/// Whether `date` is a real day of the Gregorian calendar (any year).
pub fn is_valid_date(date: Date) -> bool {
    let (y, m, d) = date;
    d >= 1 && d <= days_in_month(y, m)
}

/// The Gregorian leap-year rule.
pub(super) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// 28–31, or 0 for a month outside 1–12.
pub(super) fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The `i`-th day from 1950-01-01 (`i < DAYS`).
pub(super) fn nth_date(i: usize) -> Date {
    civil_from_days(days_from_civil((FIRST_YEAR, 1, 1)) + i as i64)
}

/// 0 for Monday … 6 for Sunday.
pub(super) fn weekday(date: Date) -> usize {
    // 1970-01-01, day 0, was a Thursday.
    (days_from_civil(date) + 3).rem_euclid(7) as usize
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm), in i64 so that no input overflows.
fn days_from_civil(date: Date) -> i64 {
    let (y, m, d) = (date.0 as i64, date.1 as i64, date.2 as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: the proleptic Gregorian date of day `z` counted from
/// 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

fn month(m: u32) -> String {
    month_index(m).map_or_else(|| m.to_string(), |i| MONTHS[i].to_string())
}

fn month_short(m: u32) -> String {
    month_index(m).map_or_else(|| m.to_string(), |i| MONTHS_SHORT[i].to_string())
}

fn month_index(m: u32) -> Option<usize> {
    (1..=12).contains(&m).then(|| m as usize - 1)
}

/// 1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, …, 21st, 22nd, 23rd, …, 31st.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Each decimal digit as its character (1999 → 一九九九, 2000 → 二〇〇〇); other characters kept.
fn zh_digits(digits: &str) -> String {
    digits.chars().map(|c| c.to_digit(10).map_or(c, |v| ZH_DIGITS[v as usize])).collect()
}

/// A month or day in words: 三, 十, 十一, 二十, 二十三, 三十一 (digit by digit past 99).
fn zh_number(n: u32) -> String {
    let (tens, ones) = (n / 10, n % 10);
    let mut out = String::new();
    match tens {
        _ if n > 99 => return zh_digits(&n.to_string()),
        0 => return ZH_DIGITS[ones as usize].to_string(),
        1 => out.push('十'),
        _ => {
            out.push(ZH_DIGITS[tens as usize]);
            out.push('十');
        }
    }
    if ones > 0 {
        out.push(ZH_DIGITS[ones as usize]);
    }
    out
}
