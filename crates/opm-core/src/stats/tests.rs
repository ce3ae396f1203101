//! Tests for the significance tests, against values computed independently (mpmath, 30 digits)
//! and the textbook Welch examples from Wikipedia's "Welch's t-test" article.

use super::*;

fn close(actual: f64, expected: f64, relative: f64) {
    let error = ((actual - expected) / expected).abs();
    assert!(error <= relative, "{actual} vs {expected}: relative error {error:e} > {relative:e}");
}

#[test]
fn normal_cdf_known_values() {
    close(normal_cdf(0.0), 0.5, 1e-7);
    close(normal_cdf(1.96), 0.975_002_104_851_779_6, 1e-7);
    close(normal_cdf(1.0), 0.841_344_746_068_542_9, 1e-7);
    close(normal_cdf(-3.0), 0.001_349_898_031_630_094_5, 1e-6);
    close(normal_cdf(-6.0), 9.865_876_450_376_98e-10, 1e-6);
    close(normal_cdf(-8.0), 6.220_960_574_271_784e-16, 1e-6);
    // z = 1.96 is the two-sided 5% level.
    close(erfc(1.96 / std::f64::consts::SQRT_2), 0.049_995_790_296_440_87, 1e-6);
}

#[test]
fn erfc_known_values() {
    close(erfc(0.0), 1.0, 1e-7);
    close(erfc(1.0), 0.157_299_207_050_285_13, 1e-7);
    close(erfc(3.0), 2.209_049_699_858_544e-5, 1e-6);
    close(erfc(5.0), 1.537_459_794_428_034_8e-12, 1e-6);
    close(erfc(-0.5), 1.520_499_877_813_046_5, 1e-7);
}

#[test]
fn student_t_cdf_known_values() {
    // Cauchy (df = 1) and df = 2 have closed forms.
    close(student_t_cdf(1.0, 1.0), 0.75, 1e-12);
    close(student_t_cdf(1.0, 2.0), 0.788_675_134_594_812_9, 1e-12);
    // Table quantiles: t(0.975; 10) = 2.228139, t(0.975; 30) = 2.042272.
    close(student_t_cdf(2.228_138_851_964_938_5, 10.0), 0.975, 1e-10);
    close(student_t_cdf(2.042_272_456_301_237_3, 30.0), 0.975, 1e-12);
    close(student_t_cdf(-3.5, 5.0), 0.008_642_215_892_646_677, 1e-10);
    close(student_t_cdf(1.3, 12.7), 0.891_649_732_707_891_2, 1e-10);
    close(student_t_cdf(0.0001, 3.0), 0.500_036_755_259_613_1, 1e-10);
    close(student_t_upper_tail(10.0, 4.0), 2.810_018_113_579_955_8e-4, 1e-9);
    assert_eq!(student_t_cdf(f64::INFINITY, 3.0), 1.0);
    assert_eq!(student_t_cdf(f64::NEG_INFINITY, 3.0), 0.0);
    assert!(student_t_cdf(1.0, 0.0).is_nan());
    assert!(student_t_cdf(f64::NAN, 3.0).is_nan());
}

#[test]
fn large_df_t_approaches_the_normal() {
    close(student_t_cdf(1.96, 1e7), normal_cdf(1.96), 1e-6);
}

#[test]
fn z_test_on_error_rates() {
    let canary = Proportion { events: 60, trials: 1000 };
    let stable = Proportion { events: 40, trials: 1000 };
    let two = two_proportion_z_test(canary, stable, Alternative::TwoSided, 0.05).unwrap();
    close(two.statistic, 2.051_956_704_170_308, 1e-12);
    close(two.p_value, 0.040_173_870_288_512_08, 1e-6);
    assert!(two.significant);
    let greater = two_proportion_z_test(canary, stable, Alternative::Greater, 0.05).unwrap();
    close(greater.p_value, 0.020_086_935_144_256_04, 1e-6);
    assert!(greater.significant);
    let less = two_proportion_z_test(canary, stable, Alternative::Less, 0.05).unwrap();
    close(less.p_value, 0.979_913_064_855_744, 1e-7);
    assert!(!less.significant);
    // The same rates at 1% level are not significant.
    assert!(!two_proportion_z_test(canary, stable, Alternative::TwoSided, 0.01).unwrap().significant);
}

#[test]
fn z_test_degenerate_inputs() {
    let none = Proportion { events: 0, trials: 500 };
    let clean = two_proportion_z_test(none, none, Alternative::Greater, 0.05).unwrap();
    assert_eq!((clean.statistic, clean.p_value, clean.significant), (0.0, 1.0, false));
    let all = Proportion { events: 10, trials: 10 };
    assert_eq!(two_proportion_z_test(all, all, Alternative::TwoSided, 0.05).unwrap().p_value, 1.0);
    let empty = Proportion { events: 0, trials: 0 };
    assert_eq!(two_proportion_z_test(empty, none, Alternative::TwoSided, 0.05), None);
    let impossible = Proportion { events: 11, trials: 10 };
    assert_eq!(two_proportion_z_test(impossible, none, Alternative::TwoSided, 0.05), None);
    assert_eq!(two_proportion_z_test(none, none, Alternative::TwoSided, 0.0), None);
    assert_eq!(two_proportion_z_test(none, none, Alternative::TwoSided, 1.0), None);
}

#[test]
fn welch_textbook_example_equal_sizes() {
    let a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    let a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    let (s1, s2) = (SampleSummary::from_values(&a1), SampleSummary::from_values(&a2));
    close(s1.mean, 20.82, 1e-12);
    close(s1.variance, 7.867_428_571_428_573, 1e-12);
    let test = welch_t_test(&s1, &s2, Alternative::TwoSided, 0.05).unwrap();
    close(test.statistic, -2.455_356_398_286_006, 1e-10);
    close(test.degrees_of_freedom.unwrap(), 24.988_529_290_231_415, 1e-10);
    close(test.p_value, 0.021_378_001_462_866_98, 1e-8);
    assert!(test.significant);
}

#[test]
fn welch_textbook_example_unequal_sizes() {
    let b1 = [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8];
    let b2 = [
        21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5,
        21.5, 21.8,
    ];
    let (s1, s2) = (SampleSummary::from_values(&b1), SampleSummary::from_values(&b2));
    let test = welch_t_test(&s1, &s2, Alternative::TwoSided, 0.05).unwrap();
    close(test.statistic, -1.565_433_523_598_507_4, 1e-10);
    close(test.degrees_of_freedom.unwrap(), 9.904_741_248_650_83, 1e-10);
    close(test.p_value, 0.148_841_696_605_327_5, 1e-8);
    assert!(!test.significant);
    let less = welch_t_test(&s1, &s2, Alternative::Less, 0.05).unwrap();
    close(less.p_value, 0.148_841_696_605_327_5 / 2.0, 1e-8);
    let greater = welch_t_test(&s1, &s2, Alternative::Greater, 0.05).unwrap();
    close(greater.p_value, 1.0 - 0.148_841_696_605_327_5 / 2.0, 1e-8);
}

#[test]
fn welch_degenerate_inputs() {
    let one = SampleSummary { n: 1, mean: 3.0, variance: 0.0 };
    let flat = SampleSummary { n: 5, mean: 3.0, variance: 0.0 };
    let other = SampleSummary { n: 5, mean: 4.0, variance: 0.0 };
    assert_eq!(welch_t_test(&one, &flat, Alternative::TwoSided, 0.05), None);
    assert_eq!(welch_t_test(&flat, &other, Alternative::TwoSided, 0.05), None);
    let same = welch_t_test(&flat, &flat, Alternative::TwoSided, 0.05).unwrap();
    assert_eq!((same.statistic, same.p_value, same.significant), (0.0, 1.0, false));
    let nan = SampleSummary { n: 5, mean: f64::NAN, variance: 1.0 };
    assert_eq!(welch_t_test(&nan, &flat, Alternative::TwoSided, 0.05), None);
}

#[test]
fn sample_summary_of_few_values() {
    assert_eq!(SampleSummary::from_values(&[]), SampleSummary { n: 0, mean: 0.0, variance: 0.0 });
    assert_eq!(SampleSummary::from_values(&[2.5]), SampleSummary { n: 1, mean: 2.5, variance: 0.0 });
    assert_eq!(SampleSummary::from_values(&[1.0, 3.0]), SampleSummary { n: 2, mean: 2.0, variance: 2.0 });
}
