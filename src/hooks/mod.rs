//! Hook building blocks that need no cluster: the check-hook condition language (parsed once at
//! validation time into an AST, then evaluated against each selected object) and the splitting of
//! an exec op's `command` into argv, and reading an exec's exit code from the API server's final
//! Status, keeping a bounded head and tail of its output, and how many per-target results status
//! keeps (`budget`), and what scale hooks remember and restore (`scale`). Pod selection and the exec runner, which do I/O, live beside these and use them.

pub mod budget;
pub mod command;
pub mod condition;
pub mod exit_status;
pub mod output;
pub mod scale;
pub mod select;
