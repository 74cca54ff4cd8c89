//! Typed parsers of numeric options with their ranges, for clap's `value_parser`: a value out of
//! range is refused before any work, with a message that names the option, the value and the
//! range (`invalid value '0' for '--epochs <EPOCHS>': must be at least 1`).

use tessera_train::seq2seq::MAX_BEAM_WIDTH;

/// A whole number, at least 1 (counts and sizes).
pub fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err("must be a whole number, at least 1".into()),
    }
}

/// A beam width: a whole number from 1 to [`MAX_BEAM_WIDTH`] (every beam runs the decoder, so a
/// width beyond it would fill the memory before the first step).
pub fn beam_width(s: &str) -> Result<usize, String> {
    match count(s)? {
        n if n <= MAX_BEAM_WIDTH => Ok(n),
        _ => Err(format!("must be at most {MAX_BEAM_WIDTH}")),
    }
}

/// A whole number, at least 2 (cross-validation folds).
pub fn at_least_two(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        Ok(_) => Err("must be at least 2".into()),
        Err(_) => Err("must be a whole number, at least 2".into()),
    }
}

fn finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(x) => Err(format!("must be a finite number, not {x}")),
        Err(_) => Err("must be a number".into()),
    }
}

/// A finite number above 0 (learning rates, clipping norms).
pub fn positive(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err("must be above 0".into())
    }
}

/// A finite number, 0 or above (weight decay, a final learning rate, a temperature).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err("must be 0 or above".into())
    }
}

/// A fraction in [0, 1) (dropout, a validation split, a decay rate).
pub fn fraction(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err("must be at least 0 and below 1".into())
    }
}

/// A fraction in (0, 1) (a test split that must hold something).
pub fn open_fraction(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x > 0.0 && x < 1.0 {
        Ok(x)
    } else {
        Err("must be above 0 and below 1".into())
    }
}

/// A probability mass in (0, 1] (nucleus sampling's p).
pub fn probability(s: &str) -> Result<f64, String> {
    let x = finite(s)?;
    if x > 0.0 && x <= 1.0 {
        Ok(x)
    } else {
        Err("must be above 0 and at most 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_out_of_range_are_refused_with_the_range() {
        assert_eq!(count("3"), Ok(3));
        assert_eq!(count("0").unwrap_err(), "must be at least 1");
        assert!(count("-1").is_err() && count("1e3").is_err() && count("").is_err());
        assert_eq!(at_least_two("2"), Ok(2));
        assert_eq!(at_least_two("1").unwrap_err(), "must be at least 2");
        assert!(at_least_two("x").is_err() && at_least_two("-2").is_err());
        assert_eq!(positive("0.5"), Ok(0.5));
        for bad in ["0", "-1", "nan", "inf", "NaN", "-inf", "x"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert_eq!(positive("nan").unwrap_err(), "must be a finite number, not NaN");
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.1").is_err());
        assert_eq!(fraction("0"), Ok(0.0));
        assert!(fraction("1").is_err() && fraction("-0.1").is_err());
        assert!(open_fraction("0").is_err() && open_fraction("0.2").is_ok());
        assert!(probability("1").is_ok() && probability("0").is_err() && probability("1.5").is_err());
    }
}
