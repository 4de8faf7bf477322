//! FILE_CHECK: the number in a track_file's file, times the weight. With weight 0 a non-zero value
//! is a failure; otherwise value x weight (negated by `reverse`) is added to the real server's
//! weight, and a result that would take that weight below 0 is a failure.

use super::decide::{Outcome, WeightAdj};

#[derive(Debug, Clone)]
pub struct FileProbe {
    pub track_file: String,
    pub path: String,
    pub weight: i32,
    pub reverse: bool,
    pub rs_weight: u32,
}

impl FileProbe {
    pub async fn run(&self) -> Outcome {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(t) => t,
            Err(e) => {
                return Outcome::fail(format!(
                    "FILE_CHECK {} cannot read {}: {e}",
                    self.track_file, self.path
                ))
            }
        };
        self.judge(leading_number(&text))
    }

    pub fn judge(&self, value: i64) -> Outcome {
        let what = format!(
            "FILE_CHECK {} ({}) value {value}",
            self.track_file, self.path
        );
        if self.weight == 0 {
            return if value == 0 {
                Outcome::pass(what)
            } else {
                Outcome::fail(format!("{what}: non-zero with weight 0"))
            };
        }
        let mut delta = value.saturating_mul(i64::from(self.weight));
        if self.reverse {
            delta = delta.saturating_neg();
        }
        if i64::from(self.rs_weight).saturating_add(delta) < 0 {
            return Outcome::fail(format!(
                "{what}: weight {} would be below 0",
                self.rs_weight as i64 + delta
            ));
        }
        Outcome::pass(format!("{what}: weight {delta:+}")).with_weight(WeightAdj::Add(delta))
    }
}

/// As strtol: optional spaces and sign, then digits; anything else reads as 0.
pub fn leading_number(text: &str) -> i64 {
    let t = text.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    let v = digits[..end].parse::<i64>().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(weight: i32, reverse: bool) -> FileProbe {
        FileProbe {
            track_file: "tf".into(),
            path: "/x".into(),
            weight,
            reverse,
            rs_weight: 10,
        }
    }

    #[test]
    fn numbers_as_strtol() {
        assert_eq!(leading_number(" 42\n"), 42);
        assert_eq!(leading_number("-7 apples"), -7);
        assert_eq!(leading_number("none"), 0);
        assert_eq!(leading_number(""), 0);
    }

    #[test]
    fn weight_zero_means_non_zero_fails() {
        assert!(probe(0, false).judge(0).ok);
        assert!(!probe(0, false).judge(3).ok);
    }

    #[test]
    fn value_times_weight() {
        let o = probe(5, false).judge(3);
        assert!(o.ok);
        assert_eq!(o.weight, Some(WeightAdj::Add(15)));
        assert_eq!(probe(5, true).judge(1).weight, Some(WeightAdj::Add(-5)));
        assert!(!probe(5, false).judge(-3).ok, "10 - 15 is below 0");
    }
}
