//! The main job (`trainer train`): every model trained, evaluated, exported, plotted and
//! summarised, one per worker process ([`worker`]) or thread, each through [`single`], in an
//! output directory held by one trainer at a time ([`out_dir`]).

pub mod error;
pub mod out_dir;
pub mod run;
pub mod single;
pub mod worker;

pub use error::RunError;
pub use run::{RunOptions, run};
pub use single::{ModelRun, Settings, run_one};
pub use worker::{JsonLines, Message, worker_main};
