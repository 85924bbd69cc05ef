//! The names flowctl gives AWS resources and the rules AWS (and the flow language) puts on them.
//! Pure functions of the manifest's strings.

use indexmap::IndexMap;

/// Longest Lambda function name AWS accepts.
pub const LAMBDA_NAME_MAX: usize = 64;
/// Longest Step Functions state machine name AWS accepts.
pub const STATE_MACHINE_NAME_MAX: usize = 80;
/// Longest IAM role name AWS accepts.
pub const ROLE_NAME_MAX: usize = 64;
/// Lambda's limit on a function's environment, measured on its JSON form as AWS does.
pub const ENV_MAX_BYTES: usize = 4096;

/// Environment variables the Lambda runtime sets itself; AWS rejects a configuration that sets them.
pub const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
];

/// `[A-Za-z_][A-Za-z0-9_]*`: a name in the flow language.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A word of the flow language that cannot name a function or flow.
pub fn is_keyword(s: &str) -> bool {
    crate::flow::parser::KEYWORDS.contains(&s)
}

/// `[A-Za-z0-9_-]+`: the characters Lambda and Step Functions accept in names.
pub fn is_aws_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `name` with every character AWS refuses in names (see [`is_aws_name`]) made a `-`: the
/// suggestion of a message that refuses it.
pub fn name_suggestion(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A cargo package name as `cargo new` accepts it (ASCII form).
pub fn is_package_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The Lambda name of a function deployed alone: `<project>-<Name>`, or `<project>-<ns>-<Name>`
/// for a key `ns.Name`.
pub fn lambda_name(project: &str, function_key: &str) -> String {
    format!("{project}-{}", function_key.replace('.', "-"))
}

/// The Lambda name of a colocation unit: `<project>-<unit>`.
pub fn unit_lambda_name(project: &str, unit: &str) -> String {
    format!("{project}-{unit}")
}

/// The state machine name of a flow: `<project>-<Flow>`.
pub fn state_machine_name(project: &str, flow: &str) -> String {
    format!("{project}-{flow}")
}

/// The IAM roles flowctl creates when the manifest names none: Step Functions', then Lambda's.
pub fn role_names(project: &str) -> [String; 2] {
    [
        format!("{project}-sfn-role"),
        format!("{project}-lambda-role"),
    ]
}

/// The environment variable telling a unit's process which functions it serves
/// (comma-separated manifest keys); flowctl adds it to every unit, and the shim reads it.
pub use flowctl_protocol::FUNCTIONS_ENV;

/// A unit's environment as deployed: its members' variables (the first value of a name
/// wins), then [`FUNCTIONS_ENV`] listing `functions` (which replaces a manifest value of the
/// same name: it is what makes the process serve the right functions).
pub fn unit_env<'a>(
    envs: impl IntoIterator<Item = &'a IndexMap<String, String>>,
    functions: &[impl AsRef<str>],
) -> IndexMap<String, String> {
    let mut env = IndexMap::new();
    for e in envs {
        for (k, v) in e {
            env.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    env.shift_remove(FUNCTIONS_ENV);
    let list: Vec<&str> = functions.iter().map(AsRef::as_ref).collect();
    env.insert(FUNCTIONS_ENV.to_string(), list.join(","));
    env
}

/// Size of an environment as Lambda measures it (its JSON text).
pub fn env_size(env: &IndexMap<String, String>) -> usize {
    serde_json::to_string(env).map_or(0, |s| s.len())
}

/// Why an environment variable name is unusable, if it is.
pub fn env_key_problem(key: &str) -> Option<EnvKeyProblem> {
    if RESERVED_ENV.contains(&key) {
        return Some(EnvKeyProblem::Reserved);
    }
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!valid).then_some(EnvKeyProblem::Invalid)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKeyProblem {
    /// Set by the Lambda runtime.
    Reserved,
    /// Not `[A-Za-z][A-Za-z0-9_]+`.
    Invalid,
}

/// Checks an AWS region code such as `eu-west-1` or `us-gov-west-1`; on failure, the hint.
pub fn check_region(region: &str) -> Result<(), String> {
    let example = "a region code such as `eu-west-1` or `us-east-1`";
    let lower = region.to_ascii_lowercase();
    if lower != region && region_shape(&lower) {
        return Err(format!("region codes are lower case: write `{lower}`"));
    }
    if region_shape(region) {
        return Ok(());
    }
    // An availability zone (`eu-west-1a`) instead of its region.
    if let Some(stripped) = region.strip_suffix(|c: char| c.is_ascii_lowercase()) {
        if region_shape(stripped) {
            return Err(format!(
                "`{region}` is an availability zone; its region is `{stripped}`"
            ));
        }
    }
    if region.contains(' ') || region.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "use the region's code, not its display name: {example}"
        ));
    }
    Err(format!("write {example}"))
}

fn region_shape(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.chars().all(|c| c.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.chars().all(|c| c.is_ascii_digit())
}

/// Checks an IAM role ARN `arn:<partition>:iam::<12 digits>:role/[<path>/]<name>`; on failure, the hint.
pub fn check_role_arn(arn: &str) -> Result<(), String> {
    let example = "arn:aws:iam::123456789012:role/my-role";
    if !arn.starts_with("arn:") {
        if !arn.is_empty() && arn.chars().all(is_role_name_char) && arn.len() <= ROLE_NAME_MAX {
            return Err(format!(
                "write the role's full ARN, e.g. `arn:aws:iam::<account id>:role/{arn}`, or `role: null` to let flowctl create the roles"
            ));
        }
        return Err(format!("write an IAM role ARN such as `{example}`, or `role: null` to let flowctl create the roles"));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(format!(
            "an IAM role ARN has six `:`-separated parts: `{example}`"
        ));
    };
    if !(*partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        }))
    {
        return Err(format!("the partition `{partition}` is unknown: use `aws` (or `aws-cn`, `aws-us-gov`), as in `{example}`"));
    }
    if *service != "iam" {
        return Err(format!(
            "this is an ARN of `{service}`, not of an IAM role: `{example}`"
        ));
    }
    if !region.is_empty() {
        return Err(format!(
            "IAM ARNs have no region: write `arn:{partition}:iam::{account}:{resource}`"
        ));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "the account id must be 12 digits (found `{account}`), as in `{example}`"
        ));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(format!(
            "the resource must be `role/<name>` (found `{resource}`), as in `{example}`"
        ));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or("");
    if name.is_empty() || name.len() > ROLE_NAME_MAX || !name.chars().all(is_role_name_char) {
        return Err(format!(
            "a role name has 1 to {ROLE_NAME_MAX} characters among letters, digits and `+=,.@_-` (found `{name}`)"
        ));
    }
    let path = &path_and_name[..path_and_name.len() - name.len()];
    if !path.chars().all(|c| c == '/' || is_role_name_char(c)) {
        return Err(format!("the role path `{path}` has characters IAM rejects"));
    }
    Ok(())
}

fn is_role_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_aws_names() {
        assert!(is_identifier("ReserveAvailability") && is_identifier("_x1"));
        assert!(
            !is_identifier("1x")
                && !is_identifier("a-b")
                && !is_identifier("")
                && !is_identifier("é")
        );
        assert!(is_aws_name("my-app_2") && !is_aws_name("my app") && !is_aws_name(""));
        assert!(is_keyword("map") && !is_keyword("Map"));
        assert_eq!(
            lambda_name("shop", "payments.Charge"),
            "shop-payments-Charge"
        );
        assert_eq!(state_machine_name("shop", "Order"), "shop-Order");
    }

    #[test]
    fn regions() {
        for ok in [
            "eu-west-1",
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-3",
            "cn-north-1",
            "il-central-1",
        ] {
            assert_eq!(check_region(ok), Ok(()), "{ok}");
        }
        assert!(check_region("EU-WEST-1")
            .unwrap_err()
            .contains("`eu-west-1`"));
        assert!(check_region("eu-west-1a")
            .unwrap_err()
            .contains("availability zone"));
        assert!(
            check_region("Ireland").is_err()
                && check_region("eu-west").is_err()
                && check_region("").is_err()
        );
    }

    #[test]
    fn role_arns() {
        assert_eq!(
            check_role_arn("arn:aws:iam::123456789012:role/flowctl"),
            Ok(())
        );
        assert_eq!(
            check_role_arn("arn:aws-cn:iam::123456789012:role/service-role/x.y@z"),
            Ok(())
        );
        assert!(check_role_arn("my-role")
            .unwrap_err()
            .contains("arn:aws:iam::<account id>:role/my-role"));
        assert!(check_role_arn("arn:aws:iam::1234:role/x")
            .unwrap_err()
            .contains("12 digits"));
        assert!(check_role_arn("arn:aws:iam::123456789012:user/x")
            .unwrap_err()
            .contains("role/<name>"));
        assert!(check_role_arn("arn:aws:s3:::bucket/x:y").is_err());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/").is_err());
    }

    #[test]
    fn env_keys() {
        assert_eq!(env_key_problem("TABLE"), None);
        assert_eq!(env_key_problem("AWS_REGION"), Some(EnvKeyProblem::Reserved));
        assert_eq!(env_key_problem("_HANDLER"), Some(EnvKeyProblem::Reserved));
        assert_eq!(env_key_problem("AWS_LAMBDA_EXEC_WRAPPER"), None);
        assert_eq!(env_key_problem("X"), Some(EnvKeyProblem::Invalid));
        assert_eq!(env_key_problem("1A"), Some(EnvKeyProblem::Invalid));
        assert_eq!(env_key_problem("MY-VAR"), Some(EnvKeyProblem::Invalid));
    }
}
