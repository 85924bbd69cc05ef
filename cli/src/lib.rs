//! flowctl's command-line library: what the `flowctl` binary does beyond the pure front-end
//! (`flowctl-lang`), the engine (`flowctl-engine`) and AWS (`flowctl-aws`) — reading a project
//! from disk (`project`), building units with cargo (`build`) and running them as local Lambda
//! processes (`local`). `cmd` (in the binary) holds one module per subcommand.

pub mod build;
pub mod local;
pub mod project;
