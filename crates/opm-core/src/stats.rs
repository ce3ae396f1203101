//! Significance tests for comparing two arms: a two-proportion z-test (error rates) and Welch's
//! t-test (means with unequal variances), so an A/B comparison has an answer, not just two numbers.
//!
//! The distributions are computed here, without a statistics dependency:
//! - the normal CDF through `erfc` (Numerical Recipes' Chebyshev fit `erfcc`, fractional error
//!   below 1.2e-7 everywhere, so small tail probabilities keep their relative precision; better
//!   than Abramowitz–Stegun 7.1.26);
//! - Student's t CDF exactly, through the regularized incomplete beta function
//!   `I_x(ν/2, 1/2)` (Lentz's continued fraction, relative accuracy ~1e-12), not a normal
//!   approximation, so small samples get honest p-values.
//!
//! Every test states its alternative hypothesis about `a − b` ([`Alternative`]) and its level
//! `alpha`; `significant` is `p_value < alpha`. Degenerate inputs (an empty arm, a sample of one,
//! no variation with different means) return `None` rather than a made-up number.

use serde::{Deserialize, Serialize};

/// The alternative hypothesis about the difference `a − b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// `a ≠ b`.
    TwoSided,
    /// `a > b` (one-sided).
    Greater,
    /// `a < b` (one-sided).
    Less,
}

/// The outcome of a significance test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignificanceTest {
    /// The test statistic: z for proportions, Welch's t for means.
    pub statistic: f64,
    /// The probability, under "no difference", of a statistic at least this extreme.
    pub p_value: f64,
    pub alpha: f64,
    pub alternative: Alternative,
    /// `p_value < alpha`.
    pub significant: bool,
    /// Welch–Satterthwaite degrees of freedom (t-test only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub degrees_of_freedom: Option<f64>,
}

/// A count of events (errors) among trials (calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proportion {
    pub events: u64,
    pub trials: u64,
}

/// The size, mean and sample variance (denominator `n − 1`) of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleSummary {
    pub n: u64,
    pub mean: f64,
    pub variance: f64,
}

impl Proportion {
    /// `events / trials`, or `None` for no trials.
    pub fn rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.events as f64 / self.trials as f64)
    }
}

impl SampleSummary {
    /// Summarizes `values` (Welford's algorithm); the variance of fewer than two values is 0.
    pub fn from_values(values: &[f64]) -> Self {
        let (mut n, mut mean, mut m2) = (0u64, 0.0, 0.0);
        for &value in values {
            n += 1;
            let delta = value - mean;
            mean += delta / n as f64;
            m2 += delta * (value - mean);
        }
        let variance = if n > 1 { m2 / (n - 1) as f64 } else { 0.0 };
        Self { n, mean, variance }
    }
}

/// Two-proportion z-test with the pooled standard error: is the rate of `a` different from (or
/// greater / less than) the rate of `b`?
///
/// `None` when an arm has no trials, counts more events than trials, or `alpha` is not in (0, 1).
/// When neither arm varies (no events at all, or only events) the rates are equal: z = 0, p = 1.
///
/// ```
/// use opm_core::stats::{two_proportion_z_test, Alternative, Proportion};
/// let canary = Proportion { events: 60, trials: 1000 };
/// let stable = Proportion { events: 40, trials: 1000 };
/// let test = two_proportion_z_test(canary, stable, Alternative::TwoSided, 0.05).unwrap();
/// assert!((test.statistic - 2.0520).abs() < 1e-4 && test.significant);
/// ```
pub fn two_proportion_z_test(
    a: Proportion,
    b: Proportion,
    alternative: Alternative,
    alpha: f64,
) -> Option<SignificanceTest> {
    if !valid_alpha(alpha) {
        return None;
    }
    let (rate_a, rate_b) = (a.rate()?, b.rate()?);
    if a.events > a.trials || b.events > b.trials {
        return None;
    }
    let (n_a, n_b) = (a.trials as f64, b.trials as f64);
    let pooled = (a.events + b.events) as f64 / (n_a + n_b);
    let standard_error = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    if standard_error == 0.0 {
        return Some(outcome(0.0, 1.0, alpha, alternative, None));
    }
    let z = (rate_a - rate_b) / standard_error;
    let p_value = match alternative {
        Alternative::TwoSided => erfc(z.abs() / std::f64::consts::SQRT_2),
        Alternative::Greater => normal_upper_tail(z),
        Alternative::Less => normal_cdf(z),
    };
    Some(outcome(z, p_value, alpha, alternative, None))
}

/// Welch's t-test for the difference of two means with unequal variances, with the
/// Welch–Satterthwaite degrees of freedom and the exact t distribution.
///
/// `None` when an arm has fewer than two values, a value is not finite, or `alpha` is not in
/// (0, 1), and when neither sample varies but the means differ (the test needs variation). Equal
/// constant samples give t = 0, p = 1.
pub fn welch_t_test(
    a: &SampleSummary,
    b: &SampleSummary,
    alternative: Alternative,
    alpha: f64,
) -> Option<SignificanceTest> {
    let usable = |s: &SampleSummary| s.n >= 2 && s.mean.is_finite() && s.variance.is_finite() && s.variance >= 0.0;
    if !valid_alpha(alpha) || !usable(a) || !usable(b) {
        return None;
    }
    let share_a = a.variance / a.n as f64;
    let share_b = b.variance / b.n as f64;
    let standard_error = (share_a + share_b).sqrt();
    if standard_error == 0.0 {
        let df = (a.n + b.n - 2) as f64;
        return (a.mean == b.mean).then(|| outcome(0.0, 1.0, alpha, alternative, Some(df)));
    }
    let df = (share_a + share_b).powi(2) / (share_a.powi(2) / (a.n - 1) as f64 + share_b.powi(2) / (b.n - 1) as f64);
    let t = (a.mean - b.mean) / standard_error;
    let p_value = match alternative {
        Alternative::TwoSided => (2.0 * student_t_upper_tail(t.abs(), df)).min(1.0),
        Alternative::Greater => student_t_upper_tail(t, df),
        Alternative::Less => student_t_upper_tail(-t, df),
    };
    Some(outcome(t, p_value, alpha, alternative, Some(df)))
}

fn valid_alpha(alpha: f64) -> bool {
    alpha > 0.0 && alpha < 1.0
}

fn outcome(
    statistic: f64,
    p_value: f64,
    alpha: f64,
    alternative: Alternative,
    degrees_of_freedom: Option<f64>,
) -> SignificanceTest {
    let p_value = p_value.clamp(0.0, 1.0);
    SignificanceTest { statistic, p_value, alpha, alternative, significant: p_value < alpha, degrees_of_freedom }
}

/// The complementary error function, `1 − erf(x)` (fractional error below 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let upper = t * poly.exp();
    if x >= 0.0 { upper } else { 2.0 - upper }
}

/// The standard normal CDF, `P(Z ≤ x)`.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// `P(Z > x)`, computed directly so far tails keep their precision.
fn normal_upper_tail(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// Student's t CDF with `df` degrees of freedom (`df > 0`, not necessarily an integer), `P(T ≤ t)`.
/// NaN for a NaN `t` or a `df` that is not positive.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    1.0 - student_t_upper_tail(t, df)
}

/// `P(T > t)`.
fn student_t_upper_tail(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    // P(|T| > |t|) = I_x(df/2, 1/2) with x = df / (df + t²).
    let x = df / (df + t * t);
    let both_tails = regularized_incomplete_beta(x, df / 2.0, 0.5);
    if t > 0.0 { 0.5 * both_tails } else { 1.0 - 0.5 * both_tails }
}

/// The regularized incomplete beta function `I_x(a, b)` for `0 ≤ x ≤ 1`, `a, b > 0`.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz's method).
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPSILON: f64 = 1e-15;
    const MAX_TERMS: u32 = 500;
    let guard = |value: f64| if value.abs() < TINY { TINY } else { value };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    h
}

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, nine terms; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (index, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (x + index as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests;
