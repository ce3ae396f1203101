//! Unit tests for splits: validation messages, the command-line form, the stored JSON, and
//! assignments checked against the Unleash vectors of REFERENCE section 4.

use serde_json::json;

use super::*;

fn arms(text: &str) -> SplitArms {
    SplitArms::parse(text).unwrap()
}

fn refused(text: &str) -> String {
    match SplitArms::parse(text) {
        Err(CoreError::InvalidSplit(message)) => message,
        other => panic!("`{text}` gave {other:?}"),
    }
}

#[test]
fn parse_and_display() {
    let check = |text: &str, display: &str| assert_eq!(arms(text).to_string(), display, "{text}");
    check("7=90,8=10", "7=90,8=10");
    check(" 7 = 90 , 8=10 ", "7=90,8=10");
    check("3=100", "3=100");
    check("8=10,7=90", "8=10,7=90");
    check("1=0,2=100", "1=0,2=100");
    check("1=10,2=10,3=10,4=10,5=10,6=10,7=10,8=10,9=10,10=10", "1=10,2=10,3=10,4=10,5=10,6=10,7=10,8=10,9=10,10=10");
    assert_eq!("7=90,8=10".parse::<SplitArms>().unwrap(), arms("7=90,8=10"));
}

#[test]
fn invalid_splits_say_what_is_wrong() {
    let check = |text: &str, expected: &str| assert_eq!(refused(text), expected, "{text}");
    check("", "`` is not VERSION=WEIGHT (e.g. `7=90,8=10`)");
    check("7:90,8=10", "`7:90` is not VERSION=WEIGHT (e.g. `7=90,8=10`)");
    check("7=90,", "`` is not VERSION=WEIGHT (e.g. `7=90,8=10`)");
    check("x=90,8=10", "`x=90`: `x` is not a version number");
    check("7=-5,8=105", "`7=-5`: `-5` is not a weight");
    check("7=90,8=20", "weights sum to 110; they must sum to 100");
    check("7=50,8=10", "weights sum to 60; they must sum to 100");
    check("7=150", "version 7 has weight 150; weights are percentages 0 to 100");
    check("7=50,7=50", "version 7 appears in more than one arm");
    check("0=100", "arm 1 has version 0; versions start at 1");
    check("1=9,2=9,3=9,4=9,5=9,6=9,7=9,8=9,9=9,10=9,11=10", "a split needs 1 to 10 arms");
    assert_eq!(SplitArms::new(vec![]).unwrap_err().to_string(), "invalid split: a split needs 1 to 10 arms, got 0");
    assert_eq!(SplitArms::new(vec![]).unwrap_err().code(), "invalid_split");
}

#[test]
fn group_is_required() {
    assert!(Split::parse("7=100", "").is_err());
    assert!(Split::parse("7=100", "g".repeat(MAX_GROUP_LEN + 1)).is_err());
    assert!(Split::parse("7=100", "g".repeat(MAX_GROUP_LEN)).is_ok());
}

#[test]
fn stickiness_group_names_the_label() {
    let group = stickiness_group(
        &ProjectName::parse("default").unwrap(),
        &PromptName::parse("welcome").unwrap(),
        &LabelName::parse("production").unwrap(),
    );
    assert_eq!(group, "default/welcome/production");
}

#[test]
fn stored_form_is_stable() {
    let split = Split::parse("7=90,8=10", "default/welcome/production").unwrap();
    let stored = json!({
        "arms": [{"version": 7, "weight": 90}, {"version": 8, "weight": 10}],
        "group": "default/welcome/production",
        "algorithm": "unleash-murmur3-x86_32",
        "algorithm_version": 1
    });
    assert_eq!(serde_json::to_value(&split).unwrap(), stored);
    assert_eq!(serde_json::from_value::<Split>(stored).unwrap(), split);
    assert_eq!(split.algorithm(), ALGORITHM);
    assert_eq!(split.algorithm_version(), ALGORITHM_VERSION);
}

#[test]
fn stored_form_is_validated() {
    let stored = |arms: serde_json::Value, algorithm: &str, version: u32| json!({"arms": arms, "group": "g", "algorithm": algorithm, "algorithm_version": version});
    let good_arms = json!([{"version": 7, "weight": 100}]);
    let bad_sum = serde_json::from_value::<Split>(stored(json!([{"version": 7, "weight": 90}]), ALGORITHM, 1));
    assert!(bad_sum.unwrap_err().to_string().contains("weights sum to 90"));
    let future = serde_json::from_value::<Split>(stored(good_arms.clone(), ALGORITHM, 2)).unwrap_err();
    assert!(
        future.to_string().contains("unsupported bucketing algorithm `unleash-murmur3-x86_32` version 2"),
        "{future}"
    );
    let other = serde_json::from_value::<Split>(stored(good_arms.clone(), "flagd-fractional", 1)).unwrap_err();
    assert!(other.to_string().contains("`flagd-fractional`"), "{other}");
    let mut extra = stored(good_arms, ALGORITHM, 1);
    extra["seed"] = json!(3);
    assert!(serde_json::from_value::<Split>(extra).is_err());
    let arm_extra = stored(json!([{"version": 7, "weight": 100, "name": "a"}]), ALGORITHM, 1);
    assert!(serde_json::from_value::<Split>(arm_extra).is_err());
}

#[test]
fn fits_a_future_tagged_label_target() {
    // The shape `LabelTarget` will take once splits become a variant of it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "lowercase")]
    enum Target {
        Version { version: u32 },
        Split(Split),
    }
    let target = Target::Split(Split::parse("7=90,8=10", "p/w/production").unwrap());
    let value = serde_json::to_value(&target).unwrap();
    assert_eq!(value["type"], "split");
    assert_eq!(value["arms"][1], json!({"version": 8, "weight": 10}));
    assert_eq!(serde_json::from_value::<Target>(value).unwrap(), target);
}

#[test]
fn canary_constructor() {
    let split = Split::canary(7, 8, 25, "g").unwrap();
    assert_eq!(split.to_string(), "7=75,8=25");
    assert_eq!(split.base_version(), 7);
    assert_eq!(split.weight_of(8), Some(25));
    assert_eq!(split.weight_of(9), None);
    assert_eq!(split.versions(), vec![7, 8]);
    assert!(Split::canary(7, 8, 101, "g").is_err());
    assert!(Split::canary(7, 7, 10, "g").is_err());
}

#[test]
fn gate_matches_the_unleash_percentage_vectors() {
    // ("gr1", "123") has bucket 73: a canary of 73% takes it, 72% does not.
    assert_eq!(Split::canary(1, 2, 73, "gr1").unwrap().assign(Some("123"), || 0).version, 2);
    assert_eq!(Split::canary(1, 2, 72, "gr1").unwrap().assign(Some("123"), || 0).version, 1);
    let group = "Feature.flexibleRollout.10";
    let ten = Split::canary(1, 2, 10, group).unwrap();
    assert_eq!(ten.gate_bucket("174"), 10);
    assert_eq!(ten.assign(Some("174"), || 0), Assignment { version: 2, arm_index: 1, sticky: true });
    assert_eq!(ten.assign(Some("499"), || 0), Assignment { version: 1, arm_index: 0, sticky: true });
}

#[test]
fn challengers_use_the_unleash_variant_split() {
    // No base weight: every key passes the gate; the challengers 1/49/50 are Unleash's
    // `Feature.Variants.D` (targets 1, 30, 70).
    let split = Split::parse("9=0,1=1,2=49,3=50", "Feature.Variants.D").unwrap();
    let check = |key: &str, version: u32, arm_index: usize| {
        assert_eq!(split.assign(Some(key), || 0), Assignment { version, arm_index, sticky: true }, "{key}");
    };
    check("712", 1, 1);
    check("525", 2, 2);
    check("537", 3, 3);
}

#[test]
fn single_arm_serves_everyone() {
    let split = Split::parse("4=100", "g").unwrap();
    for key in ["a", "b", "c"] {
        assert_eq!(split.assign(Some(key), || 0), Assignment { version: 4, arm_index: 0, sticky: true });
    }
    assert_eq!(split.assign(None, || 12345).version, 4);
}

#[test]
fn zero_weight_arms_serve_nobody() {
    let none = Split::parse("1=100,2=0", "g").unwrap();
    let all = Split::parse("1=0,2=100", "g").unwrap();
    for index in 0..500 {
        let key = format!("user-{index}");
        assert_eq!(none.assign(Some(&key), || 0).version, 1);
        assert_eq!(all.assign(Some(&key), || 0).version, 2);
        assert_eq!(none.assign(None, || index).version, 1);
        assert_eq!(all.assign(None, || index).version, 2);
    }
}

#[test]
fn without_a_key_the_random_number_decides_in_proportion() {
    let split = Split::parse("7=90,8=10", "g").unwrap();
    let mut served = [0u32; 2];
    for random in 0..1000 {
        let assignment = split.assign(None, || random);
        assert!(!assignment.sticky);
        served[assignment.arm_index] += 1;
    }
    assert_eq!(served, [900, 100]);
    assert!(!split.assign(Some(""), || 0).sticky, "an empty key is no key");
}

#[test]
fn a_sticky_key_never_consults_the_random_number() {
    let split = Split::parse("7=50,8=50", "g").unwrap();
    let _ = split.assign(Some("user"), || panic!("random number used for a sticky key"));
}

#[test]
fn gcd_of_weights() {
    assert_eq!(gcd(0, 5), 5);
    assert_eq!(gcd(10, 15), 5);
    assert_eq!(gcd(7, 0), 7);
    assert_eq!(gcd(0, 0), 0);
}
