use std::collections::{HashMap, HashSet};

use super::render::{days_in_month, is_leap, weekday};
use super::*;

/// Every form of `date`, checked against `expected` written out by hand, in [`FORMS`] order.
fn check_all(date: Date, expected: [&str; 21]) {
    assert_eq!(FORMS.len(), expected.len());
    for (form, want) in FORMS.iter().zip(expected) {
        assert_eq!(render(date, *form), want, "{form:?} of {date:?}");
    }
}

#[test]
fn every_form_of_1999_03_03() {
    check_all(
        (1999, 3, 3),
        [
            "the 3rd of March 1999",
            "3rd of March 1999",
            "March 3, 1999",
            "March 3rd, 1999",
            "Mar 3 1999",
            "Mar. 3, 1999",
            "3 March 1999",
            "3 Mar 1999",
            "Wednesday, March 3, 1999",
            "3/3/99",
            "03/03/1999",
            "3.3.1999",
            "03.03.1999",
            "1999-03-03",
            "MARCH 3, 1999",
            "march 3, 1999",
            "一九九九年三月三日",
            "1999年3月3日",
            "九九年三月三日",
            "一九九九年三月三号",
            "1999年03月03日",
        ],
    );
}

#[test]
fn every_form_of_2000_02_29() {
    check_all(
        (2000, 2, 29),
        [
            "the 29th of February 2000",
            "29th of February 2000",
            "February 29, 2000",
            "February 29th, 2000",
            "Feb 29 2000",
            "Feb. 29, 2000",
            "29 February 2000",
            "29 Feb 2000",
            "Tuesday, February 29, 2000",
            "2/29/00",
            "02/29/2000",
            "29.2.2000",
            "29.02.2000",
            "2000-02-29",
            "FEBRUARY 29, 2000",
            "february 29, 2000",
            "二〇〇〇年二月二十九日",
            "2000年2月29日",
            "〇〇年二月二十九日",
            "二〇〇〇年二月二十九号",
            "2000年02月29日",
        ],
    );
}

#[test]
fn every_form_of_the_first_and_last_days() {
    check_all(
        (1950, 1, 1),
        [
            "the 1st of January 1950",
            "1st of January 1950",
            "January 1, 1950",
            "January 1st, 1950",
            "Jan 1 1950",
            "Jan. 1, 1950",
            "1 January 1950",
            "1 Jan 1950",
            "Sunday, January 1, 1950",
            "1/1/50",
            "01/01/1950",
            "1.1.1950",
            "01.01.1950",
            "1950-01-01",
            "JANUARY 1, 1950",
            "january 1, 1950",
            "一九五〇年一月一日",
            "1950年1月1日",
            "五〇年一月一日",
            "一九五〇年一月一号",
            "1950年01月01日",
        ],
    );
    check_all(
        (2049, 12, 31),
        [
            "the 31st of December 2049",
            "31st of December 2049",
            "December 31, 2049",
            "December 31st, 2049",
            "Dec 31 2049",
            "Dec. 31, 2049",
            "31 December 2049",
            "31 Dec 2049",
            "Friday, December 31, 2049",
            "12/31/49",
            "12/31/2049",
            "31.12.2049",
            "31.12.2049",
            "2049-12-31",
            "DECEMBER 31, 2049",
            "december 31, 2049",
            "二〇四九年十二月三十一日",
            "2049年12月31日",
            "四九年十二月三十一日",
            "二〇四九年十二月三十一号",
            "2049年12月31日",
        ],
    );
}

#[test]
fn may_keeps_no_dot_and_single_digit_two_digit_years_are_padded() {
    assert_eq!(render((2005, 5, 9), DateForm::AbbrevDotMonthDay), "May 9, 2005");
    assert_eq!(render((2005, 5, 9), DateForm::SlashShort), "5/9/05");
    assert_eq!(render((2005, 5, 9), DateForm::ZhShortYear), "〇五年五月九日");
    assert_eq!(render((1987, 9, 14), DateForm::AbbrevDotMonthDay), "Sep. 14, 1987");
}

#[test]
fn ordinals() {
    let cases = [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (10, "10th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (14, "14th"),
        (20, "20th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (24, "24th"),
        (30, "30th"),
        (31, "31st"),
    ];
    for (day, want) in cases {
        assert_eq!(render((2010, 1, day), DateForm::OrdinalOfMonth), format!("{want} of January 2010"));
    }
}

#[test]
fn chinese_month_and_day_words() {
    let cases = [
        ((2010, 10, 10), "二〇一〇年十月十日"),
        ((2010, 11, 11), "二〇一〇年十一月十一日"),
        ((2010, 12, 20), "二〇一〇年十二月二十日"),
        ((2010, 1, 23), "二〇一〇年一月二十三日"),
        ((2010, 1, 30), "二〇一〇年一月三十日"),
        ((2010, 7, 31), "二〇一〇年七月三十一日"),
        ((1968, 6, 19), "一九六八年六月十九日"),
    ];
    for (date, want) in cases {
        assert_eq!(render(date, DateForm::ZhWords), want);
    }
}

#[test]
fn weekdays_of_known_dates() {
    let cases = [
        ((1999, 3, 3), "Wednesday"),
        ((2000, 1, 1), "Saturday"),
        ((2000, 2, 29), "Tuesday"),
        ((1950, 1, 1), "Sunday"),
        ((1969, 7, 20), "Sunday"),
        ((2024, 7, 4), "Thursday"),
        ((2049, 12, 31), "Friday"),
    ];
    for (date, want) in cases {
        assert!(render(date, DateForm::WeekdayMonthDay).starts_with(&format!("{want}, ")), "{date:?}");
    }
}

#[test]
fn the_calendar_runs_day_by_day_through_the_range() {
    assert!(is_leap(2000) && is_leap(1952) && is_leap(2048) && !is_leap(1900) && !is_leap(2100) && !is_leap(1999));
    let mut expected = (FIRST_YEAR, 1, 1);
    for i in 0..DAYS {
        let date = nth_date(i);
        assert_eq!(date, expected);
        assert!(is_valid_date(date));
        assert_eq!(weekday(date), (6 + i) % 7, "1950-01-01 was a Sunday");
        let (y, m, d) = date;
        expected = if d < days_in_month(y, m) {
            (y, m, d + 1)
        } else if m < 12 {
            (y, m + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
    }
    assert_eq!(nth_date(DAYS - 1), (LAST_YEAR, 12, 31));
    assert!(!is_valid_date((1999, 2, 29)) && !is_valid_date((1999, 13, 1)) && !is_valid_date((1999, 4, 31)));
}

#[test]
fn nonsense_dates_render_without_panicking() {
    for date in [(0, 0, 0), (-5, 13, 99), (i32::MIN, u32::MAX, u32::MAX), (i32::MAX, 2, 30)] {
        for &form in FORMS {
            let _ = render(date, form);
        }
    }
}

/// Each form is one-to-one over the range, and no string means two dates in two forms, so
/// every source determines its target; the distinct strings are [`DISTINCT_SOURCES`].
#[test]
fn every_source_determines_its_date() {
    let mut meaning: HashMap<String, usize> = HashMap::with_capacity(DISTINCT_SOURCES);
    for &form in FORMS {
        let mut this_form = HashSet::with_capacity(DAYS);
        for i in 0..DAYS {
            let source = render(nth_date(i), form);
            assert!(this_form.insert(source.clone()), "{form:?} renders two dates as {source}");
            let day = *meaning.entry(source.clone()).or_insert(i);
            assert_eq!(day, i, "{source} means two dates");
        }
    }
    assert_eq!(meaning.len(), DISTINCT_SOURCES);
}

fn sources(pairs: &[(String, String)]) -> HashSet<&str> {
    pairs.iter().map(|(s, _)| s.as_str()).collect()
}

#[test]
fn splits_are_disjoint_unique_and_correct() {
    let task = dates_task(1, 20_000, 1_000, 1_000).unwrap();
    assert_eq!((task.train.len(), task.valid.len(), task.test.len()), (20_000, 1_000, 1_000));
    let (train, valid, test) = (sources(&task.train), sources(&task.valid), sources(&task.test));
    assert_eq!((train.len(), valid.len(), test.len()), (20_000, 1_000, 1_000));
    assert!(train.is_disjoint(&valid) && train.is_disjoint(&test) && valid.is_disjoint(&test));
    for (source, target) in task.train.iter().chain(&task.valid).chain(&task.test) {
        let date = parse_iso(target);
        assert!(is_valid_date(date) && (FIRST_YEAR..=LAST_YEAR).contains(&date.0), "{target}");
        assert!(FORMS.iter().any(|&f| render(date, f) == *source), "{source} is not {target} in any form");
    }
}

#[test]
fn every_form_appears_in_training_in_nearly_equal_numbers() {
    let task = dates_task(2, 20_000, 1_000, 1_000).unwrap();
    for &form in FORMS {
        let count = task.train.iter().filter(|(s, t)| render(parse_iso(t), form) == *s).count();
        // Each form draws 952 or 953 of the 20,000; strings shared by two forms (13.12.2000 is
        // both dot forms) count for both.
        assert!((952..1200).contains(&count), "{form:?}: {count}");
    }
}

#[test]
fn seeded_deterministic_and_the_test_split_ignores_the_training_size() {
    let a = dates_task(5, 2_000, 100, 100).unwrap();
    assert_eq!(a, dates_task(5, 2_000, 100, 100).unwrap());
    let b = dates_task(6, 2_000, 100, 100).unwrap();
    assert_ne!(a.train, b.train);
    assert_ne!(a.test, b.test);
    let bigger = dates_task(5, 5_000, 100, 100).unwrap();
    assert_eq!(bigger.test, a.test);
    assert_eq!(bigger.valid, a.valid);
}

#[test]
fn counts_up_to_every_distinct_source_and_no_further() {
    let all = dates_task(3, DISTINCT_SOURCES - 20, 10, 10).unwrap();
    assert_eq!(sources(&all.train).len(), DISTINCT_SOURCES - 20);
    let err = dates_task(3, DISTINCT_SOURCES, 1, 0).unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert_eq!(
        err.to_string(),
        "invalid configuration: the dates task cannot give 747825 training + 1 validation + 0 test pairs: \
         it has 747825 distinct source strings"
    );
    assert!(matches!(dates_task(3, usize::MAX, 1, 1), Err(Error::Config(_))));
    let empty = dates_task(3, 0, 0, 0).unwrap();
    assert!(empty.train.is_empty() && empty.valid.is_empty() && empty.test.is_empty());
}

#[test]
fn pair_sets_are_named_and_complete() {
    let (train, valid, test) = dates_task(4, 50, 5, 5).unwrap().into_pair_sets();
    assert_eq!(train.name, "the dates task (train)");
    assert_eq!((train.len(), valid.len(), test.len()), (50, 5, 5));
    assert!(train.skipped.is_empty());
}

fn parse_iso(s: &str) -> Date {
    let parts: Vec<&str> = s.split('-').collect();
    (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2].parse().unwrap())
}
