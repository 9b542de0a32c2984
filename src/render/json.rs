//! JSON numbers as they were measured: floats rounded to 6 decimals (nanoseconds, for the
//! milliseconds wirelab reports), so that binary noise such as `0.47750000000000004` never
//! reaches a report.

use serde_json::{Number, Value};

/// Rounds every non-integer number in `v` to 6 decimals (below 9e9, where `x * 1e6` is still
/// an exact integer in an f64; epoch seconds included).
pub fn round_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(x) = n.as_f64() {
                if x.is_finite() && x.abs() < 9e9 {
                    if let Some(r) = Number::from_f64((x * 1e6).round() / 1e6) {
                        *n = r;
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(round_floats),
        Value::Object(m) => m.values_mut().for_each(round_floats),
        _ => {}
    }
}

/// `serde_json::to_string_pretty` of `value`, rounded.
pub fn to_pretty_rounded<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut v = serde_json::to_value(value)?;
    round_floats(&mut v);
    serde_json::to_string_pretty(&v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn noise_is_rounded_away() {
        let mut v = serde_json::json!({"a": 0.47750000000000004, "b": [0.1 + 0.2, 3], "c": 1795291953.1897602, "d": 12});
        super::round_floats(&mut v);
        assert_eq!(v.to_string(), r#"{"a":0.4775,"b":[0.3,3],"c":1795291953.18976,"d":12}"#);
    }
}
