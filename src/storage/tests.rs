use std::collections::BTreeMap;

use k8s_openapi::ByteString;

use super::desired::{self, CREDENTIALS_KEY, LABEL_MANAGED_BY, LABEL_RAMEN_CONFIG};
use super::*;

fn config() -> ConfigRef {
    "ramen-system/ramen-dr-cluster-operator-config"
        .parse()
        .unwrap()
}

fn data(yaml: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(profile::CONFIG_KEY.to_owned(), yaml.to_owned())])
}

/// A Ramen document with the keys Ramen has besides the profiles, which must be ignored.
fn document(profiles: &str) -> String {
    format!(
        "apiVersion: ramendr.openshift.io/v1alpha1
kind: RamenConfig
health:
  healthProbeBindAddress: :8081
leaderElection:
  leaderElect: true
ramenControllerType: dr-cluster
maxConcurrentReconciles: 50
kubeObjectProtection:
  veleroNamespaceName: velero
s3StoreProfiles:
{profiles}"
    )
}

const EAST: &str = "- s3ProfileName: s3profile-east
  s3Bucket: bucket-east
  s3CompatibleEndpoint: https://s3.east.example:9000
  s3Region: us-east-1
  s3SecretRef: {name: ramen-s3-secret-east, namespace: ''}
  someFutureField: [1, 2]
";

fn parsed(profiles: &str) -> Parsed {
    parse(&data(&document(profiles)), "ramen-system").unwrap()
}

#[test]
fn config_refs_are_namespace_and_name() {
    assert_eq!(config().namespace, "ramen-system");
    assert_eq!(
        config().to_string(),
        "ramen-system/ramen-dr-cluster-operator-config"
    );
    for bad in ["ramen-system", "/x", "Ramen/x", "a/b/c"] {
        assert!(bad.parse::<ConfigRef>().is_err(), "{bad}");
    }
}

#[test]
fn a_profile_is_read_with_unknown_fields_ignored() {
    let p = parsed(EAST);
    assert_eq!(p.refused, vec![]);
    assert_eq!(p.mentioned, vec!["s3profile-east"]);
    let east = &p.profiles[0];
    assert_eq!(east.bucket, "bucket-east");
    assert_eq!(east.endpoint, "https://s3.east.example:9000");
    assert_eq!(east.region, "us-east-1");
    // An empty namespace is the ConfigMap's, as in Ramen.
    assert_eq!(east.secret.namespace, "ramen-system");
    assert_eq!(east.velero_secret, None);
    assert_eq!(east.ca_certificates, None);
}

#[test]
fn document_errors_name_the_key() {
    let missing = parse(&BTreeMap::new(), "ns").unwrap_err();
    assert_eq!(missing, ConfigError::MissingKey);
    assert!(missing.to_string().contains("ramen_manager_config.yaml"));
    let bad = parse(&data("s3StoreProfiles: [unclosed"), "ns").unwrap_err();
    assert!(matches!(bad, ConfigError::Yaml(_)), "{bad}");
    let shape = parse(&data("s3StoreProfiles: {a: 1}"), "ns").unwrap_err();
    assert_eq!(
        shape.to_string(),
        "ramen_manager_config.yaml: s3StoreProfiles is not a list"
    );
    assert!(parse(&data("- a list"), "ns").is_err());
}

#[test]
fn no_profiles_configure_nothing() {
    for yaml in [
        "",
        "kind: RamenConfig\n",
        "s3StoreProfiles: []\n",
        "s3StoreProfiles:\n",
    ] {
        assert_eq!(
            parse(&data(yaml), "ns").unwrap(),
            Parsed::default(),
            "{yaml:?}"
        );
    }
}

#[test]
fn a_bad_profile_is_refused_alone_with_its_reason() {
    let p = parsed(&format!(
        "{EAST}- s3ProfileName: West_Profile
  s3Bucket: b
  s3CompatibleEndpoint: https://w
  s3SecretRef: {{name: s}}
- s3ProfileName: nobucket
  s3CompatibleEndpoint: https://w
  s3SecretRef: {{name: s}}
- s3Bucket: b
- s3ProfileName: typo
  s3Bucket: [not, a, string]
- s3ProfileName: nosecret
  s3Bucket: b
  s3CompatibleEndpoint: https://w
"
    ));
    assert_eq!(p.profiles.len(), 1);
    let reasons: Vec<String> = p.refused.iter().map(ToString::to_string).collect();
    assert!(reasons[0].starts_with("s3 profile West_Profile: s3ProfileName \"West_Profile\" cannot name a BackupStorageLocation"), "{}", reasons[0]);
    assert_eq!(reasons[1], "s3 profile nobucket: s3Bucket is missing");
    assert_eq!(
        reasons[2],
        "s3 profile s3StoreProfiles[3]: s3ProfileName is missing"
    );
    assert!(
        reasons[3].starts_with("s3 profile typo: "),
        "{}",
        reasons[3]
    );
    assert_eq!(
        reasons[4],
        "s3 profile nosecret: s3SecretRef.name is missing"
    );
    // Refused profiles with usable names keep their locations (see `plan`).
    assert_eq!(
        p.mentioned,
        vec!["s3profile-east", "nobucket", "typo", "nosecret"]
    );
}

#[test]
fn duplicate_names_refuse_every_copy_once() {
    let p = parsed(&format!("{EAST}{EAST}"));
    assert_eq!(p.profiles, vec![]);
    assert_eq!(
        p.refused
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["s3 profile s3profile-east: defined 2 times; rename or remove all but one"]
    );
    assert_eq!(p.mentioned, vec!["s3profile-east", "s3profile-east"]);
}

#[test]
fn the_location_is_ramens() {
    let east = &parsed(EAST).profiles[0];
    let bsl = desired::location(east, "velero", &config());
    assert_eq!(bsl["metadata"]["name"], "s3profile-east");
    assert_eq!(bsl["metadata"]["namespace"], "velero");
    assert_eq!(bsl["metadata"]["labels"][LABEL_MANAGED_BY], "vrg-operator");
    assert_eq!(
        bsl["metadata"]["labels"][LABEL_RAMEN_CONFIG],
        "ramen-system.ramen-dr-cluster-operator-config"
    );
    assert_eq!(
        bsl["spec"],
        serde_json::json!({
            "provider": "aws",
            "objectStorage": {"bucket": "bucket-east"},
            "config": {"region": "us-east-1", "s3ForcePathStyle": "true",
                       "s3Url": "https://s3.east.example:9000", "checksumAlgorithm": ""},
            "credential": {"name": "vramen-s3-secret-east", "key": CREDENTIALS_KEY},
        })
    );
}

#[test]
fn a_users_velero_secret_and_ca_are_used_as_given() {
    let p = parsed(
        "- s3ProfileName: own
  s3Bucket: b
  s3CompatibleEndpoint: https://o
  veleroNamespaceSecretKeyRef: {name: creds, key: cloud}
  caCertificates: LS0tLS1CRUdJTg==
",
    );
    let own = &p.profiles[0];
    assert_eq!(desired::generated_secret_name(own), None);
    let bsl = desired::location(own, "velero", &config());
    assert_eq!(
        bsl["spec"]["credential"],
        serde_json::json!({"name": "creds", "key": "cloud"})
    );
    assert_eq!(bsl["spec"]["objectStorage"]["caCert"], "LS0tLS1CRUdJTg==");
    let half = parsed(
        "- s3ProfileName: half
  s3Bucket: b
  s3CompatibleEndpoint: https://o
  veleroNamespaceSecretKeyRef: {name: creds}
",
    );
    assert_eq!(
        half.refused[0].reason,
        "veleroNamespaceSecretKeyRef needs both name and key"
    );
}

fn keys(id: &str, secret: &str) -> BTreeMap<String, ByteString> {
    BTreeMap::from([
        (
            "AWS_ACCESS_KEY_ID".into(),
            ByteString(id.as_bytes().to_vec()),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            ByteString(secret.as_bytes().to_vec()),
        ),
    ])
}

#[test]
fn the_generated_secret_is_an_aws_credentials_file() {
    let east = &parsed(EAST).profiles[0];
    let secret = desired::credentials(east, &keys("AK", "SK"), "velero", &config()).unwrap();
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some("vramen-s3-secret-east")
    );
    assert_eq!(secret.metadata.namespace.as_deref(), Some("velero"));
    assert_eq!(
        secret.data.unwrap()[CREDENTIALS_KEY].0,
        b"[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n"
    );
    let err = desired::credentials(east, &BTreeMap::new(), "velero", &config()).unwrap_err();
    assert_eq!(
        err,
        "Secret ramen-system/ramen-s3-secret-east has no key AWS_ACCESS_KEY_ID"
    );
    let err = desired::credentials(east, &keys("AK\n", "SK"), "velero", &config()).unwrap_err();
    assert!(err.contains("line break"), "{err}");
}

fn existing(name: &str, labels: &[(&str, &str)]) -> Existing {
    Existing {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        version: None,
    }
}

#[test]
fn only_our_objects_are_written_or_deleted() {
    let ours = [
        (LABEL_MANAGED_BY, "vrg-operator"),
        (
            LABEL_RAMEN_CONFIG,
            "ramen-system.ramen-dr-cluster-operator-config",
        ),
    ];
    let another_config = [
        (LABEL_MANAGED_BY, "vrg-operator"),
        (LABEL_RAMEN_CONFIG, "other.config"),
    ];
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let there = [
        existing("east", &ours),
        existing("gone", &ours),
        existing("refused", &ours),
        existing("default", &[]),
        existing("users", &[]),
        existing("theirs", &another_config),
    ];
    let plan = plan(
        &names(&["east", "new", "users"]),
        &names(&["east", "new", "users", "refused"]),
        &there,
        &config(),
    );
    assert_eq!(plan.apply, names(&["east", "new"]));
    assert_eq!(plan.foreign, names(&["users"]));
    assert_eq!(plan.delete, names(&["gone"]));
}
