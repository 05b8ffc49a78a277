//! One run of a training command: started in its own process group, its stdout read line by
//! line, its stderr kept in the trial's log, stopped with SIGTERM then SIGKILL.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of stderr kept for a failed trial's reason.
pub const STDERR_TAIL_LINES: usize = 20;

/// A started command.
pub(crate) struct Running {
    child: Child,
    /// The command's process group (its own pid).
    pgid: i32,
    /// stdout, a line at a time; disconnected at end of file.
    pub lines: Receiver<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Disconnected when stderr reaches end of file.
    stderr_done: Receiver<()>,
    log: Arc<Mutex<File>>,
    pub started: Instant,
}

/// How long a failed trial's reason waits for the rest of stderr (a grandchild may hold the
/// pipe open).
const STDERR_DRAIN: Duration = Duration::from_secs(1);

impl Running {
    /// Starts `argv` in `workdir` with `env` added, writes `input` to its stdin and closes
    /// it, and appends its stderr (and, through [`Running::log`], the lines its caller does
    /// not consume) to `log_path`.
    pub fn spawn(
        argv: &[String],
        workdir: &Path,
        env: &[(String, String)],
        input: &str,
        log_path: &Path,
    ) -> std::io::Result<Running> {
        let log = File::options().create(true).append(true).open(log_path)?;
        let log = Arc::new(Mutex::new(log));
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(workdir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn()?;
        let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let (tx, lines) = channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                while let Some(line) = read_line(&mut reader) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (done_tx, stderr_done) = channel::<()>();
        if let Some(stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let _done = done_tx;
                let mut reader = BufReader::new(stderr);
                while let Some(line) = read_line(&mut reader) {
                    if let Ok(mut f) = log.lock() {
                        let _ = writeln!(f, "{line}");
                    }
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == STDERR_TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
            });
        }
        if let Some(mut stdin) = child.stdin.take() {
            // Written by its own thread, after the readers started: a program that reads
            // the trial file instead and never reads stdin must not block Archer. Closing
            // stdin early is the program's right, not an error.
            let input = input.to_string();
            std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
            });
        }
        Ok(Running {
            child,
            pgid,
            lines,
            stderr_tail,
            stderr_done,
            log,
            started: Instant::now(),
        })
    }

    /// Appends a line of the command's stdout to the trial's log.
    pub fn log(&self, line: &str) {
        if let Ok(mut f) = self.log.lock() {
            let _ = writeln!(f, "{line}");
        }
    }

    /// The last lines of stderr, joined (once stderr is closed, or after a short wait).
    pub fn stderr_tail(&self) -> String {
        let _ = self.stderr_done.recv_timeout(STDERR_DRAIN);
        self.stderr_tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    fn signal_group(&self, signal: i32) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for the
        // child; it touches no memory of ours.
        unsafe {
            libc::kill(-self.pgid, signal);
        }
    }

    /// The exit status, if the command has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the command to exit, at most until `deadline`.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM to the whole group, then SIGKILL once `grace` has passed; returns when the
    /// command has exited (what it left running in its group is killed too).
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.signal_group(libc::SIGTERM);
        let status = self.wait_until(Instant::now() + grace);
        // Whatever else the group still runs (workers, a shell's children) goes as well.
        self.signal_group(libc::SIGKILL);
        status.or_else(|| self.child.wait().ok())
    }

    /// Memory of the command's process group, MiB: the sum of each process's proportional
    /// set size (`Pss` of /proc/PID/smaps_rollup, resident size where that is missing), so
    /// that pages forked workers share count once; `None` where nothing can be read.
    pub fn resident_mib(&self) -> Option<u64> {
        let mut total_kib = 0u64;
        let mut found = false;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name (which may hold spaces) end with ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // rest: state ppid pgrp ... ; rss (pages) is field 24 of stat = rest[21].
            if fields.get(2).and_then(|g| g.parse::<i32>().ok()) != Some(self.pgid) {
                continue;
            }
            // Proportional set size: pages shared by forked workers count once in all.
            let pss = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.starts_with("Pss:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                });
            let rss = || {
                fields
                    .get(21)
                    .and_then(|r| r.parse::<u64>().ok())
                    .map(|pages| pages * page_kib())
            };
            if let Some(kib) = pss.or_else(rss) {
                total_kib += kib;
                found = true;
            }
        }
        found.then_some(total_kib / 1024)
    }
}

fn page_kib() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(bytes).map_or(4, |b| (b / 1024).max(1))
}

impl Drop for Running {
    fn drop(&mut self) {
        // Never leave a training process behind, whatever path the evaluation took: what
        // the program started in its group (data-loader workers, a shell's children) goes
        // too, even after the program itself exited.
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// One line of output, without its end of line, invalid UTF-8 replaced (a program's bytes
/// must not stop the reader, which would leave it writing to a closed pipe); `None` at end
/// of file or on a read error.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut buf = Vec::new();
    match reader.read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                buf.pop();
            }
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}
