//! Can this machine build for the Lambda architecture asked for? Natively when the host is
//! Linux on that CPU; otherwise through `--target <arch>-unknown-linux-gnu`, which needs the
//! Rust standard library for that target and a linker for it. When either is missing, the
//! error lists exactly the commands that install them.

use flowctl_lang::manifest::Architecture;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target triple of a Lambda architecture (glibc, as on `provided.al2023`).
pub fn triple(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// The GNU cross compiler (used as the linker) and its Debian package, per architecture.
fn cross_gcc(architecture: Architecture) -> (&'static str, &'static str) {
    match architecture {
        Architecture::X86_64 => ("x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu"),
        Architecture::Arm64 => ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    }
}

/// `CARGO_TARGET_<TRIPLE>_LINKER` for a triple.
pub fn linker_env(triple: &str) -> String {
    format!(
        "CARGO_TARGET_{}_LINKER",
        triple.to_ascii_uppercase().replace('-', "_")
    )
}

/// How cargo is to build for the architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPlan {
    /// The host builds it natively: no `--target`, binaries in `target/release`.
    Native,
    /// `--target triple`, with `linker` set through the environment when flowctl found it.
    Cross {
        triple: &'static str,
        linker: Option<(String, String)>,
    },
}

/// What is known about the machine, gathered by [`probe`] (or made up in tests).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `std::env::consts::ARCH` and `OS` of the host.
    pub host_arch: &'static str,
    pub host_os: &'static str,
    /// Whether the Rust standard library for the triple is installed (its `lib` directory
    /// exists in the sysroot).
    pub target_installed: bool,
    /// Whether `CARGO_TARGET_<TRIPLE>_LINKER` is already set.
    pub linker_configured: bool,
    /// The cross gcc, when it is on `PATH`.
    pub cross_gcc: Option<PathBuf>,
}

/// What is missing to build for the architecture, and how to install it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MissingToolchain(pub String);

/// Whether the host builds `architecture` natively (Linux on the same CPU).
pub fn is_native(architecture: Architecture, host_arch: &str, host_os: &str) -> bool {
    let cpu = match architecture {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "aarch64",
    };
    host_os == "linux" && host_arch == cpu
}

/// Pure: how to build `architecture` given `facts`, or the install commands for what is missing.
pub fn plan(architecture: Architecture, facts: &Facts) -> Result<TargetPlan, MissingToolchain> {
    if is_native(architecture, facts.host_arch, facts.host_os) {
        return Ok(TargetPlan::Native);
    }
    let triple = triple(architecture);
    let (gcc, gcc_package) = cross_gcc(architecture);
    let env = linker_env(triple);
    let mut steps = Vec::new();
    if !facts.target_installed {
        steps.push(format!("rustup target add {triple}"));
    }
    let linker = if facts.linker_configured {
        None
    } else if let Some(path) = &facts.cross_gcc {
        Some((env.clone(), path.to_string_lossy().into_owned()))
    } else {
        steps.push(format!("apt-get install {gcc_package}"));
        steps.push(format!("export {env}={gcc}"));
        None
    };
    if steps.is_empty() {
        return Ok(TargetPlan::Cross { triple, linker });
    }
    Err(MissingToolchain(format!(
        "building for {} ({triple}) on this {}-{} machine needs the Rust target and a linker for it; install what is missing:\n{}",
        architecture.as_str(),
        facts.host_os,
        facts.host_arch,
        steps
            .iter()
            .map(|s| format!("    {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    )))
}

/// Gathers [`Facts`] for a cross build (asks `rustc` for its sysroot, in `dir` so that a
/// `rust-toolchain.toml` there is honoured). Only called when the build is not native.
pub fn probe(architecture: Architecture, dir: &Path) -> Facts {
    let triple = triple(architecture);
    let rustc = std::env::var_os("RUSTC")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| OsString::from("rustc"));
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let target_installed =
        sysroot.is_some_and(|root| root.join("lib/rustlib").join(triple).join("lib").is_dir());
    let linker_configured = std::env::var_os(linker_env(triple)).is_some_and(|v| !v.is_empty());
    let (gcc, _) = cross_gcc(architecture);
    Facts {
        host_arch: std::env::consts::ARCH,
        host_os: std::env::consts::OS,
        target_installed,
        linker_configured,
        cross_gcc: find_on_path(gcc),
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x86_linux() -> Facts {
        Facts {
            host_arch: "x86_64",
            host_os: "linux",
            ..Facts::default()
        }
    }

    #[test]
    fn the_host_architecture_builds_natively() {
        assert_eq!(
            plan(Architecture::X86_64, &x86_linux()),
            Ok(TargetPlan::Native)
        );
        let arm = Facts {
            host_arch: "aarch64",
            ..x86_linux()
        };
        assert_eq!(plan(Architecture::Arm64, &arm), Ok(TargetPlan::Native));
    }

    #[test]
    fn a_missing_target_and_linker_are_named_with_their_install_commands() {
        let err = plan(Architecture::Arm64, &x86_linux()).unwrap_err().0;
        assert!(
            err.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{err}"
        );
        assert!(
            err.contains("apt-get install gcc-aarch64-linux-gnu"),
            "{err}"
        );
        assert!(
            err.contains(
                "export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc"
            ),
            "{err}"
        );

        let only_linker = Facts {
            target_installed: true,
            ..x86_linux()
        };
        let err = plan(Architecture::Arm64, &only_linker).unwrap_err().0;
        assert!(!err.contains("rustup"), "{err}");
        assert!(
            err.contains("apt-get install gcc-aarch64-linux-gnu"),
            "{err}"
        );

        let only_target = Facts {
            linker_configured: true,
            ..x86_linux()
        };
        let err = plan(Architecture::Arm64, &only_target).unwrap_err().0;
        assert!(
            err.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{err}"
        );
        assert!(!err.contains("apt-get"), "{err}");
    }

    #[test]
    fn a_found_cross_gcc_becomes_the_linker() {
        let facts = Facts {
            target_installed: true,
            cross_gcc: Some(PathBuf::from("/usr/bin/aarch64-linux-gnu-gcc")),
            ..x86_linux()
        };
        assert_eq!(
            plan(Architecture::Arm64, &facts),
            Ok(TargetPlan::Cross {
                triple: "aarch64-unknown-linux-gnu",
                linker: Some((
                    "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER".into(),
                    "/usr/bin/aarch64-linux-gnu-gcc".into()
                )),
            })
        );
        let configured = Facts {
            linker_configured: true,
            ..facts
        };
        assert_eq!(
            plan(Architecture::Arm64, &configured),
            Ok(TargetPlan::Cross {
                triple: "aarch64-unknown-linux-gnu",
                linker: None
            })
        );
    }

    #[test]
    fn x86_64_from_an_arm_or_mac_host_is_a_cross_build() {
        let mac = Facts {
            host_arch: "aarch64",
            host_os: "macos",
            ..Facts::default()
        };
        let err = plan(Architecture::X86_64, &mac).unwrap_err().0;
        assert!(
            err.contains("rustup target add x86_64-unknown-linux-gnu"),
            "{err}"
        );
        assert!(
            err.contains("apt-get install gcc-x86-64-linux-gnu"),
            "{err}"
        );
        assert!(!is_native(Architecture::X86_64, "x86_64", "macos"));
    }
}
