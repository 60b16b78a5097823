//! Child processes that die with the test process, whatever way it ends.
//!
//! Each child gets `PR_SET_PDEATHSIG(SIGKILL)`: the kernel kills it when the thread that spawned
//! it exits. Children are therefore spawned from one thread that lives as long as the process, so
//! a panicking test, a `process::exit`, or a killed test binary never leaves etcd or
//! kube-apiserver running.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use crate::Error;

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The long-lived thread that spawns every child.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                // The channel never closes while the process lives: park so children survive.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the testenv spawner thread");
        Mutex::new(tx)
    })
}

/// A running child process, killed (and reaped) on drop.
pub struct Process {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    /// The child leads a process group of its own: killing it kills what it started too.
    group: bool,
}

impl Process {
    /// Starts `program args...` with `env` added to its environment, and stdout and stderr
    /// written to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        env: &[(&str, String)],
    ) -> Result<Self, Error> {
        Self::start(name, program, args, log, env, false)
    }

    /// [`Process::spawn`] in a process group of its own, for programs that start helpers of
    /// their own (Velero runs each plugin as a child process): killing it kills them too.
    pub fn spawn_group(
        name: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        env: &[(&str, String)],
    ) -> Result<Self, Error> {
        Self::start(name, program, args, log, env, true)
    }

    fn start(
        name: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        env: &[(&str, String)],
        group: bool,
    ) -> Result<Self, Error> {
        let out = File::create(&log).map_err(|e| Error::Io(log.clone(), e))?;
        let err = out.try_clone().map_err(|e| Error::Io(log.clone(), e))?;
        let mut command = Command::new(program);
        command
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if group {
            command.process_group(0);
        }
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let (tx, rx) = mpsc::channel();
        let sent = spawner()
            .lock()
            .map(|s| s.send((command, tx)).is_ok())
            .unwrap_or(false);
        let child = match (sent, rx.recv()) {
            (true, Ok(result)) => {
                result.map_err(|e| Error::Spawn(name.to_owned(), program.to_owned(), e))?
            }
            _ => return Err(Error::Binaries("the testenv spawner thread is gone".into())),
        };
        Ok(Self {
            name: name.to_owned(),
            log,
            child,
            group,
        })
    }

    /// Kills the process (and its group) at once, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        if self.group {
            // SAFETY: kill(2) with a negative pid signals the group the child leads.
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1 (the OS picks one; it is released before the child binds it).
pub fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Io("127.0.0.1:0".into(), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Io("127.0.0.1:0".into(), e))
}
