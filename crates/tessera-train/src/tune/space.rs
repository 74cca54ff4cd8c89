//! The search space of a hyperparameter search: `lr=1e-3,3e-4 batch_size=32,128`, parsed against
//! the keys a model kind accepts, every value checked for its key's type.

use crate::{Error, Result};
use std::fmt;

/// The type of a hyperparameter's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A finite number above 0 (a learning rate).
    Positive,
    /// A finite number, 0 or above (weight decay).
    NonNegative,
    /// A fraction in `[0, 1)` (dropout).
    Fraction,
    /// A whole number, at least 1 (a batch size, epochs).
    Count,
    /// One of these words, lowercase (an optimizer).
    Choice(&'static [&'static str]),
}

impl Kind {
    /// `text` as a value of this kind, or what it must be.
    fn parse(self, text: &str) -> std::result::Result<Value, String> {
        let number = || text.parse::<f64>().ok().filter(|x| x.is_finite());
        match self {
            Kind::Positive => number().filter(|&x| x > 0.0).map(Value::Number).ok_or("a finite number above 0".into()),
            Kind::NonNegative => {
                number().filter(|&x| x >= 0.0).map(Value::Number).ok_or("a finite number, 0 or above".into())
            }
            Kind::Fraction => {
                number().filter(|x| (0.0..1.0).contains(x)).map(Value::Number).ok_or("a number in [0, 1)".into())
            }
            Kind::Count => text
                .parse::<usize>()
                .ok()
                .filter(|&n| n >= 1)
                .map(Value::Count)
                .ok_or("a whole number, at least 1".into()),
            Kind::Choice(words) => {
                let lower = text.to_ascii_lowercase();
                words
                    .iter()
                    .find(|w| **w == lower)
                    .map(|w| Value::Word(w))
                    .ok_or_else(|| format!("one of {}", words.join(", ")))
            }
        }
    }
}

/// A hyperparameter a model kind accepts: its name in the search space, the type of its values,
/// and what it sets (for help texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The key, as written in the search space (`lr`).
    pub name: &'static str,
    /// The type of its values.
    pub kind: Kind,
    /// What it sets, in a few words.
    pub help: &'static str,
}

/// The learning rate.
pub const LR: KeySpec = KeySpec { name: "lr", kind: Kind::Positive, help: "the optimizer's learning rate" };
/// Examples per optimizer step.
pub const BATCH_SIZE: KeySpec = KeySpec { name: "batch_size", kind: Kind::Count, help: "examples per optimizer step" };
/// Passes over the training data.
pub const EPOCHS: KeySpec = KeySpec { name: "epochs", kind: Kind::Count, help: "passes over the training data" };
/// The optimizer's weight decay (an L2 term for sgd and adam, decoupled for adamw).
pub const WEIGHT_DECAY: KeySpec = KeySpec {
    name: "weight_decay",
    kind: Kind::NonNegative,
    help: "weight decay (L2 for sgd and adam, decoupled for adamw; default 0, adamw 0.01)",
};
/// An L1 penalty on the weights (Keras' convention, as `train mlp --l1`).
pub const L1: KeySpec = KeySpec {
    name: "l1",
    kind: Kind::NonNegative,
    help: "L1 penalty on the weights, not the biases (adds l1 * sum |w| to the loss)",
};
/// An L2 penalty on the weights (Keras' convention, as `train mlp --l2`).
pub const L2: KeySpec = KeySpec {
    name: "l2",
    kind: Kind::NonNegative,
    help: "L2 penalty on the weights, not the biases (adds l2 * sum w^2 to the loss)",
};
/// Which optimizer.
pub const OPTIMIZER: KeySpec =
    KeySpec { name: "optimizer", kind: Kind::Choice(&["sgd", "adam", "adamw"]), help: "sgd, adam or adamw" };
/// The dropout rate of a model that has dropout.
pub const DROPOUT: KeySpec = KeySpec { name: "dropout", kind: Kind::Fraction, help: "the dropout rate, in [0, 1)" };

/// The keys of how any classifier is trained ([`TrainSettings`](super::TrainSettings)): every
/// model kind accepts them; a model with its own hyperparameters adds keys such as [`DROPOUT`].
pub const TRAINING_KEYS: &[KeySpec] = &[LR, BATCH_SIZE, EPOCHS, WEIGHT_DECAY, OPTIMIZER, L1, L2];

/// One value of a hyperparameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A number ([`Kind::Positive`], [`Kind::NonNegative`], [`Kind::Fraction`]).
    Number(f64),
    /// A whole number ([`Kind::Count`]).
    Count(usize),
    /// A word ([`Kind::Choice`]).
    Word(&'static str),
}

impl Value {
    /// The value as a number (a count converts).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Number(x) => Some(x),
            Value::Count(n) => Some(n as f64),
            Value::Word(_) => None,
        }
    }
}

impl fmt::Display for Value {
    /// Numbers in their shortest form (`0.001`, `3e-4`), counts and words as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Number(x) if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) => write!(f, "{x:e}"),
            Value::Number(x) => write!(f, "{x}"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Word(w) => f.write_str(w),
        }
    }
}

/// One key of a search space and the values to try.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The key.
    pub key: &'static str,
    /// Its values, in the order given, none twice.
    pub values: Vec<Value>,
}

/// The hyperparameters to search and the values of each: the grid of every combination.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    params: Vec<Param>,
}

impl SearchSpace {
    /// Parses `key=v1,v2 key2=v3 ...` (keys separated by white space, values by commas) against
    /// the keys a model kind `accepts`. Refused, with the key or value at fault named: an empty
    /// space, an unknown or repeated key, a key without values, an empty value, a value of the
    /// wrong type, a value given twice.
    pub fn parse(spec: &str, accepts: &[KeySpec]) -> Result<SearchSpace> {
        let bad = |msg: String| Err(Error::SearchSpace(msg));
        let mut params: Vec<Param> = Vec::new();
        for item in spec.split_whitespace() {
            let Some((key, list)) = item.split_once('=') else {
                return bad(format!("`{item}` has no values: write it as `{item}=v1,v2`"));
            };
            let Some(found) = accepts.iter().find(|k| k.name == key) else {
                let names: Vec<&str> = accepts.iter().map(|k| k.name).collect();
                return bad(format!("unknown key `{key}`: the keys accepted are {}", names.join(", ")));
            };
            if params.iter().any(|p| p.key == key) {
                return bad(format!("key `{key}` is given twice: list all its values once, `{key}=v1,v2`"));
            }
            if list.is_empty() {
                return bad(format!("key `{key}` has no values: write `{key}=v1,v2`"));
            }
            let mut values = Vec::new();
            for text in list.split(',') {
                if text.is_empty() {
                    return bad(format!("key `{key}`: an empty value in `{list}`"));
                }
                let value = found
                    .kind
                    .parse(text)
                    .map_err(|want| Error::SearchSpace(format!("key `{key}`: value `{text}` is not {want}")))?;
                if values.contains(&value) {
                    return bad(format!("key `{key}`: value `{text}` is given twice"));
                }
                values.push(value);
            }
            params.push(Param { key: found.name, values });
        }
        if params.is_empty() {
            return bad("it is empty: give the values to try, e.g. `lr=1e-3,3e-4 batch_size=32,128`".into());
        }
        Ok(SearchSpace { params })
    }

    /// The keys and their values, in the order given.
    pub fn params(&self) -> &[Param] {
        &self.params
    }
}

impl fmt::Display for SearchSpace {
    /// As it parses: `lr=0.001,3e-4 batch_size=32,128`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.params.iter().enumerate() {
            let values: Vec<String> = p.values.iter().map(Value::to_string).collect();
            write!(f, "{}{}={}", if i > 0 { " " } else { "" }, p.key, values.join(","))?;
        }
        Ok(())
    }
}

/// One configuration of a search: a value for every key of the space.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    values: Vec<(&'static str, Value)>,
}

impl Config {
    /// A configuration of these keys and values (in the order the columns of reports take).
    pub fn new(values: Vec<(&'static str, Value)>) -> Config {
        Config { values }
    }

    /// The keys and values, in the space's order.
    pub fn values(&self) -> &[(&'static str, Value)] {
        &self.values
    }

    /// The value of `key`, when the configuration sets it.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The configuration as a JSON object (numbers, counts and words).
    pub fn to_json(&self) -> serde_json::Value {
        let map = self.values.iter().map(|(k, v)| {
            let json = match *v {
                Value::Number(x) => x.into(),
                Value::Count(n) => n.into(),
                Value::Word(w) => w.into(),
            };
            (k.to_string(), json)
        });
        serde_json::Value::Object(map.collect())
    }
}

impl fmt::Display for Config {
    /// `lr=0.001 batch_size=32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.values.iter().enumerate() {
            write!(f, "{}{k}={v}", if i > 0 { " " } else { "" })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<KeySpec> {
        let mut k = TRAINING_KEYS.to_vec();
        k.push(DROPOUT);
        k
    }

    fn refused(spec: &str) -> String {
        SearchSpace::parse(spec, &keys()).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_kind_in_the_order_given() {
        let s = SearchSpace::parse("  lr=1e-3,3e-4\tbatch_size=32,128 optimizer=SGD,adamw dropout=0,0.5  ", &keys())
            .unwrap();
        let p = s.params();
        assert_eq!(p.iter().map(|p| p.key).collect::<Vec<_>>(), ["lr", "batch_size", "optimizer", "dropout"]);
        assert_eq!(p[0].values, [Value::Number(1e-3), Value::Number(3e-4)]);
        assert_eq!(p[1].values, [Value::Count(32), Value::Count(128)]);
        assert_eq!(p[2].values, [Value::Word("sgd"), Value::Word("adamw")]);
        assert_eq!(p[3].values, [Value::Number(0.0), Value::Number(0.5)]);
        assert_eq!(s.to_string(), "lr=0.001,3e-4 batch_size=32,128 optimizer=sgd,adamw dropout=0,0.5");
        assert_eq!(SearchSpace::parse(&s.to_string(), &keys()).unwrap(), s);
        let weight_decay = SearchSpace::parse("weight_decay=0", &keys()).unwrap();
        assert_eq!(weight_decay.params()[0].values, [Value::Number(0.0)]);
    }

    #[test]
    fn bad_specs_are_refused_naming_the_key_or_value() {
        let cases = [
            ("", "search space: it is empty"),
            ("   ", "search space: it is empty"),
            ("lr", "`lr` has no values: write it as `lr=v1,v2`"),
            ("lr=", "key `lr` has no values"),
            (
                "momentum=0.9",
                "unknown key `momentum`: the keys accepted are lr, batch_size, epochs, weight_decay, optimizer, l1, l2, \
                 dropout",
            ),
            ("lr=1e-3 lr=3e-4", "key `lr` is given twice"),
            ("lr=1e-3,,3e-4", "key `lr`: an empty value in `1e-3,,3e-4`"),
            ("lr=0", "key `lr`: value `0` is not a finite number above 0"),
            ("lr=nan", "key `lr`: value `nan` is not a finite number above 0"),
            ("lr=fast", "key `lr`: value `fast` is not a finite number above 0"),
            ("batch_size=32.5", "key `batch_size`: value `32.5` is not a whole number, at least 1"),
            ("epochs=0", "key `epochs`: value `0` is not a whole number, at least 1"),
            ("weight_decay=-1", "key `weight_decay`: value `-1` is not a finite number, 0 or above"),
            ("dropout=1", "key `dropout`: value `1` is not a number in [0, 1)"),
            ("optimizer=rmsprop", "key `optimizer`: value `rmsprop` is not one of sgd, adam, adamw"),
            ("lr=1e-3,0.001", "key `lr`: value `0.001` is given twice"),
            ("optimizer=adam,ADAM", "key `optimizer`: value `ADAM` is given twice"),
        ];
        for (spec, want) in cases {
            let e = refused(spec);
            assert!(e.contains(want), "{spec:?}: {e}");
        }
        // A key the model kind does not accept, though another kind would.
        let e = SearchSpace::parse("dropout=0.5", TRAINING_KEYS).unwrap_err().to_string();
        assert!(e.contains("unknown key `dropout`"), "{e}");
    }

    #[test]
    fn configurations_read_and_print_their_values() {
        let c = Config::new(vec![("lr", Value::Number(3e-4)), ("batch_size", Value::Count(64))]);
        assert_eq!(c.to_string(), "lr=3e-4 batch_size=64");
        assert_eq!(c.get("batch_size").and_then(|v| v.as_f64()), Some(64.0));
        assert_eq!(c.get("dropout"), None);
        assert_eq!(c.to_json(), serde_json::json!({"lr": 3e-4, "batch_size": 64}));
        assert_eq!(Value::Number(2e6).to_string(), "2e6");
        assert_eq!(Value::Number(0.25).to_string(), "0.25");
    }
}
