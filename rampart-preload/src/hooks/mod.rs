//! The exported entry points, one module per family. Each hook calls the
//! real function (or re-implements it on the real `execve`/`posix_spawn`
//! where glibc would bypass the hooks), reports, and returns exactly what
//! the program would have seen without the library, errno included.

pub mod exec;
pub mod exit;
pub mod fd;
pub mod mutate;
pub mod net;
pub mod open;
pub mod spawn;
pub mod syscall;
