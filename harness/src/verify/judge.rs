//! From per-row evidence to a verdict: holds, violated or unknown. Unknown
//! evidence (an errored row, an empty or `unknown` cell) never counts as
//! holding; no evidence at all proves nothing.

use std::fmt;

/// How many rows must hold: all of them, or at least a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    All,
    /// In hundredths of a percent (95% = 9500), so the comparison is exact.
    AtLeast(u32),
}

impl Share {
    /// `all`, or a percentage like `95%` or `99.5%` (at most two decimals,
    /// more than 0, at most 100).
    pub fn parse(text: &str) -> Result<Share, String> {
        let t = text.trim();
        if t == "all" {
            return Ok(Share::All);
        }
        let bad = || {
            format!("in = `{text}`: expected \"all\" or a share like \"95%\" (more than 0%, at most 100%)")
        };
        let number = t.strip_suffix('%').ok_or_else(bad)?;
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty()
            || frac.len() > 2
            || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
            || int.len() > 3
        {
            return Err(bad());
        }
        let hundredths = int.parse::<u32>().map_err(|_| bad())? * 100
            + format!("{frac:0<2}").parse::<u32>().map_err(|_| bad())?;
        if hundredths == 0 || hundredths > 10_000 {
            return Err(bad());
        }
        Ok(Share::AtLeast(hundredths))
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Share::All => f.write_str("all"),
            Share::AtLeast(h) if h % 100 == 0 => write!(f, "{}%", h / 100),
            Share::AtLeast(h) => write!(f, "{}.{:02}%", h / 100, h % 100),
        }
    }
}

/// A guarantee's verdict over many rows. Not `checker::Verdict` (one
/// state, from check exit codes): this one weighs rows against a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Holds,
    Unknown,
    Violated,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Row counts by evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub holding: usize,
    pub violating: usize,
    pub unknown: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.holding + self.violating + self.unknown
    }
}

/// The rules: for `all`, any violating row → violated, else any unknown
/// row → unknown, no rows → unknown. For a share: holds when the holding
/// rows reach it; violated when even counting every unknown row as
/// holding they miss it; unknown in between (and with no rows).
pub fn verdict(share: Share, c: Counts) -> Verdict {
    let n = c.total();
    if n == 0 {
        return Verdict::Unknown;
    }
    match share {
        Share::All if c.violating > 0 => Verdict::Violated,
        Share::All if c.unknown > 0 => Verdict::Unknown,
        Share::All => Verdict::Holds,
        Share::AtLeast(h) => {
            let need = h as u128 * n as u128;
            if c.holding as u128 * 10_000 >= need {
                Verdict::Holds
            } else if (c.holding + c.unknown) as u128 * 10_000 < need {
                Verdict::Violated
            } else {
                Verdict::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(holding: usize, violating: usize, unknown: usize) -> Counts {
        Counts {
            holding,
            violating,
            unknown,
        }
    }

    #[test]
    fn shares_parse_exactly() {
        assert_eq!(Share::parse("all"), Ok(Share::All));
        assert_eq!(Share::parse("95%"), Ok(Share::AtLeast(9500)));
        assert_eq!(Share::parse("99.5%"), Ok(Share::AtLeast(9950)));
        assert_eq!(Share::parse("0.01%"), Ok(Share::AtLeast(1)));
        assert_eq!(Share::parse("100%"), Ok(Share::AtLeast(10_000)));
        for bad in [
            "0%", "101%", "95", "95 %", "-5%", "9.999%", "%", "all%", "ninety%", "1e2%", "1000%",
            "", ".5%",
        ] {
            assert!(Share::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(Share::parse("99.5%").unwrap().to_string(), "99.50%");
        assert_eq!(Share::parse("95%").unwrap().to_string(), "95%");
    }

    #[test]
    fn all_rules() {
        assert_eq!(verdict(Share::All, c(5, 0, 0)), Verdict::Holds);
        assert_eq!(verdict(Share::All, c(4, 1, 0)), Verdict::Violated);
        assert_eq!(
            verdict(Share::All, c(4, 1, 3)),
            Verdict::Violated,
            "a violation outweighs unknowns"
        );
        assert_eq!(
            verdict(Share::All, c(4, 0, 1)),
            Verdict::Unknown,
            "an errored row is not holding"
        );
        assert_eq!(
            verdict(Share::All, c(0, 0, 0)),
            Verdict::Unknown,
            "no rows prove nothing"
        );
        assert_eq!(verdict(Share::All, c(0, 0, 3)), Verdict::Unknown);
    }

    #[test]
    fn share_rules() {
        let s95 = Share::AtLeast(9500);
        assert_eq!(
            verdict(s95, c(19, 1, 0)),
            Verdict::Holds,
            "19/20 = 95% exactly"
        );
        assert_eq!(verdict(s95, c(18, 2, 0)), Verdict::Violated);
        assert_eq!(
            verdict(s95, c(18, 1, 1)),
            Verdict::Unknown,
            "the unknown row decides"
        );
        assert_eq!(verdict(s95, c(18, 0, 2)), Verdict::Unknown);
        assert_eq!(
            verdict(s95, c(17, 2, 1)),
            Verdict::Violated,
            "18/20 even if the unknown row held"
        );
        assert_eq!(
            verdict(s95, c(17, 1, 2)),
            Verdict::Unknown,
            "19/20 if both unknown rows held"
        );
        assert_eq!(verdict(Share::AtLeast(10_000), c(3, 0, 0)), Verdict::Holds);
        assert_eq!(verdict(s95, c(0, 0, 0)), Verdict::Unknown);
        assert_eq!(verdict(s95, c(0, 1, 0)), Verdict::Violated);
    }

    proptest! {
        #[test]
        fn verdict_is_monotone_and_consistent(h in 0usize..40, v in 0usize..40, u in 0usize..40, share in 1u32..=10_000) {
            for s in [Share::All, Share::AtLeast(share)] {
                let got = verdict(s, c(h, v, u));
                // Unknown rows can never make a verdict `holds` that would
                // not hold if they were violations, nor `violated` that would
                // not be if they held.
                if got == Verdict::Holds {
                    prop_assert_eq!(verdict(s, c(h, v + u, 0)), Verdict::Holds);
                }
                if got == Verdict::Violated {
                    prop_assert_eq!(verdict(s, c(h + u, v, 0)), Verdict::Violated);
                }
                // Without unknowns, with rows, there is always a decision.
                if u == 0 && h + v > 0 {
                    prop_assert_ne!(verdict(s, c(h, v, 0)), Verdict::Unknown);
                }
                // One more holding row never makes it worse.
                prop_assert!(verdict(s, c(h + 1, v, u)) <= got);
            }
            // `all` is the strictest share.
            if verdict(Share::All, c(h, v, u)) == Verdict::Holds {
                prop_assert_eq!(verdict(Share::AtLeast(share), c(h, v, u)), Verdict::Holds);
            }
        }
    }
}
