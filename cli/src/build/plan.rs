//! Which Lambda units a project builds: the colocation plan (`crate::plan`) as build
//! instructions, one binary per unit serving its members through the shim's dispatch.

use crate::manifest::Manifest;
use crate::plan::{self, Plan};
use indexmap::IndexMap;

pub use crate::plan::FUNCTIONS_ENV;

/// One Lambda function to build and deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPlan {
    /// The unit's name (the Lambda function is `<project>-<name>`).
    pub name: String,
    /// The manifest keys of the functions it serves.
    pub functions: Vec<String>,
    /// The cargo package whose binary is its `bootstrap`.
    pub package: String,
    /// Its Lambda environment: the functions' own variables, then [`FUNCTIONS_ENV`].
    pub env: IndexMap<String, String>,
    /// Memory in MB.
    pub memory: u32,
    /// Timeout in seconds.
    pub timeout: u32,
}

/// The units of a plan, in its order.
pub fn units(plan: &Plan) -> Vec<UnitPlan> {
    plan.units
        .iter()
        .map(|u| UnitPlan {
            name: u.name.clone(),
            functions: u.functions.clone(),
            package: u.package.clone(),
            env: u.env.clone(),
            memory: u.memory,
            timeout: u.timeout,
        })
        .collect()
}

/// Every function in a unit of its own, in manifest order (the layout without colocation).
pub fn one_unit_per_function(manifest: &Manifest) -> Vec<UnitPlan> {
    units(&plan::one_unit_per_function(manifest))
}

/// The packages `units` need, each once, sorted (the `-p` list of the one cargo build).
pub fn packages(units: &[UnitPlan]) -> Vec<String> {
    let mut packages: Vec<String> = units.iter().map(|u| u.package.clone()).collect();
    packages.sort();
    packages.dedup();
    packages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::CompileOptions;

    fn manifest(yaml: &str) -> Manifest {
        let (manifest, diags) = crate::manifest::parse(yaml);
        assert!(diags.is_empty(), "{diags:#?}");
        manifest.unwrap()
    }

    #[test]
    fn one_unit_per_function_with_its_settings_and_function_list() {
        let m = manifest(
            "project: shop\nfunctions:\n  Reserve:\n    package: shop-fns\n    memory: 256\n    timeout: 10\n    env: { TABLE: t, MODE: fast }\n  payments.Charge:\n    package: pay-fns\n",
        );
        let units = one_unit_per_function(&m);
        assert_eq!(units.len(), 2);
        let reserve = &units[0];
        assert_eq!(reserve.name, "Reserve");
        assert_eq!(reserve.functions, ["Reserve"]);
        assert_eq!(reserve.package, "shop-fns");
        assert_eq!((reserve.memory, reserve.timeout), (256, 10));
        let env: Vec<_> = reserve
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [("TABLE", "t"), ("MODE", "fast"), (FUNCTIONS_ENV, "Reserve")]
        );

        let charge = &units[1];
        assert_eq!(
            charge.name, "payments-Charge",
            "as the compiled ASL names it"
        );
        assert_eq!(charge.functions, ["payments.Charge"]);
        assert_eq!(charge.env[FUNCTIONS_ENV], "payments.Charge");
        assert_eq!(
            (charge.memory, charge.timeout),
            (
                crate::manifest::DEFAULT_MEMORY,
                crate::manifest::DEFAULT_TIMEOUT
            )
        );
        assert_eq!(packages(&units), ["pay-fns", "shop-fns"]);
    }

    #[test]
    fn unit_names_match_the_compiled_documents() {
        let m = manifest(
            "project: p\nfunctions:\n  A: { package: x }\n  ns.B: { package: x }\n  C: { package: y }\n",
        );
        let compiled = CompileOptions::one_unit_per_function(m.functions.keys().cloned(), "").units;
        for unit in one_unit_per_function(&m) {
            assert_eq!(compiled[&unit.functions[0]], unit.name);
        }
        assert_eq!(packages(&one_unit_per_function(&m)), ["x", "y"]);
    }

    #[test]
    fn a_manifest_value_for_the_function_list_is_replaced() {
        let m = manifest(
            "project: p\nfunctions:\n  A:\n    package: x\n    env: { FLOWCTL_FUNCTIONS: B, KEY: v }\n",
        );
        let unit = &one_unit_per_function(&m)[0];
        let env: Vec<_> = unit
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("KEY", "v"), (FUNCTIONS_ENV, "A")]);
    }

    #[test]
    fn no_functions_no_units() {
        let m = manifest("project: p\n");
        assert!(one_unit_per_function(&m).is_empty());
        assert!(packages(&[]).is_empty());
    }
}
