//! Accuracy at k: the share of faults whose true root cause is among the first k
//! candidates. A fault that was missed (no incident, or the root cause not ranked at all)
//! has no rank and counts as a miss at every k. Avg@5 is the mean of AC@1..AC@5 (RCAEval).

use serde_json::{Value, json};

/// AC@k over `ranks` (1-based; `None` = missed). 0 for no faults.
pub fn ac_at(ranks: &[Option<usize>], k: usize) -> f64 {
    if ranks.is_empty() {
        return 0.0;
    }
    let hits = ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count();
    hits as f64 / ranks.len() as f64
}

/// Avg@5 = (AC@1 + … + AC@5) / 5.
pub fn avg5(ranks: &[Option<usize>]) -> f64 {
    (1..=5).map(|k| ac_at(ranks, k)).sum::<f64>() / 5.0
}

/// `{n, ac1, ac3, avg5}` of a set of ranks, rounded to four decimals.
pub fn summary(ranks: &[Option<usize>]) -> Value {
    json!({
        "n": ranks.len(),
        "ac1": round4(ac_at(ranks, 1)),
        "ac3": round4(ac_at(ranks, 3)),
        "avg5": round4(avg5(ranks)),
    })
}

/// Rounds to four decimals (stable, readable JSON).
pub fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// 1-based position of `truth` in `ranked`, if present.
pub fn position<S: AsRef<str>>(ranked: &[S], truth: &str) -> Option<usize> {
    ranked
        .iter()
        .position(|c| c.as_ref() == truth)
        .map(|i| i + 1)
}

/// Median of `xs` (mean of the middle two for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The `q`-quantile with linear interpolation (pandas' default), `None` when empty.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(v[lo] + (v[hi] - v[lo]) * (h - lo as f64))
}
