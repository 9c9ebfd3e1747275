//! Enforce mode at the library level, against a test collector that answers
//! verdicts: the verdict cache (repeated calls are not asked again, yet
//! still reported; a new policy generation asks again) and threads that wait
//! for verdicts at the same time, each getting its own.

mod common;

use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{compile, library, Collector};
use rampart_core::event::{Call, Outcome};
use rampart_core::wire::Frame;

/// The policy generation file, at generation `g`, nothing verdict-free and
/// no path screen.
fn write_generation(path: &std::path::Path, g: u64) {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = vec![0u8; rampart_core::generation::LEN];
    b[..8].copy_from_slice(&g.to_le_bytes());
    f.write_all_at(&b, 0).unwrap();
}

fn enforced(cmd: &mut Command, c: &Collector, gen_file: &std::path::Path) {
    cmd.env("LD_PRELOAD", library())
        .env("RAMPART_SOCKET", &c.socket)
        .env("RAMPART_MODE", "enforce")
        .env("RAMPART_POLICY_GEN", gen_file)
        .env("RAMPART_DECISION_TIMEOUT_MS", "20000");
}

/// (wants_verdict, outcome) of every open event of `path` so far.
fn opens_of(c: &Collector, path: &str) -> Vec<(bool, Outcome)> {
    c.frames_so_far()
        .into_iter()
        .filter_map(|f| match f {
            Frame::Event {
                wants_verdict,
                event,
                ..
            } => match &event.call {
                Call::Open { path: p, .. } if p == path => Some((wants_verdict, event.outcome)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

const REPEAT_OPENS: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static void open_once(const char *p) {
    int fd = open(p, O_RDONLY);
    printf("%s\n", fd >= 0 ? "ok" : errno == EACCES ? "EACCES" : "other");
    if (fd >= 0) close(fd);
}
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < 3; i++) open_once(argv[1]);
    struct stat st;
    struct timespec ts = {0, 5000000};
    while (stat(argv[2], &st) != 0) nanosleep(&ts, NULL);
    for (int i = 0; i < 2; i++) open_once(argv[1]);
    return 0;
}
"#;

#[test]
fn repeated_calls_come_from_the_cache_until_the_policy_generation_changes() {
    let allow = Arc::new(AtomicBool::new(true));
    let decide = allow.clone();
    let c = Collector::start_deciding(Some(Arc::new(move |_| decide.load(Ordering::SeqCst))));
    let dir = tempfile::tempdir().unwrap();
    let prog = compile(dir.path(), "repeat", REPEAT_OPENS);
    let file = dir.path().join("data.txt");
    std::fs::write(&file, "d").unwrap();
    let file = std::fs::canonicalize(&file).unwrap();
    let go = dir.path().join("go");
    let gen_file = c.dir().join("policy-generation");
    write_generation(&gen_file, 2);

    let mut cmd = Command::new(&prog);
    cmd.arg(&file).arg(&go).stdout(Stdio::piped());
    enforced(&mut cmd, &c, &gen_file);
    let child = cmd.spawn().unwrap();

    let path = file.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while opens_of(&c, path).len() < 3 {
        assert!(Instant::now() < deadline, "the first opens never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A stricter policy: the collector now denies, and says so.
    allow.store(false, Ordering::SeqCst);
    write_generation(&gen_file, 4);
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\nok\nok\nEACCES\nEACCES\n"
    );
    c.settle_from(0);
    assert_eq!(
        opens_of(&c, path),
        [
            (true, Outcome::Unknown),
            (false, Outcome::Ok),
            (false, Outcome::Ok),
            (true, Outcome::Unknown),
            (false, Outcome::Errno(libc::EACCES)),
        ],
        "asked once per generation; cached calls reported without waiting"
    );
}

const THREADS: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static const char *dir;
static int wrong[8];
static void *work(void *arg) {
    int t = (int)(long)arg;
    char p[4096];
    for (int i = 0; i < 40; i++) {
        int allowed = (i + t) % 2 == 0;
        snprintf(p, sizeof p, "%s/%s-%d-%d", dir, allowed ? "allow" : "deny", t, i);
        int fd = open(p, O_RDONLY);
        if (allowed ? fd < 0 : (fd >= 0 || errno != EACCES)) wrong[t]++;
        if (fd >= 0) close(fd);
    }
    return NULL;
}
int main(int argc, char **argv) {
    dir = argv[1];
    pthread_t th[8];
    for (long t = 0; t < 8; t++) pthread_create(&th[t], NULL, work, (void *)t);
    int total = 0;
    for (int t = 0; t < 8; t++) { pthread_join(th[t], NULL); total += wrong[t]; }
    printf("wrong=%d\n", total);
    return 0;
}
"#;

#[test]
fn threads_waiting_at_the_same_time_each_get_their_own_verdict() {
    let c = Collector::start_deciding(Some(Arc::new(|ev| {
        ev.path().is_some_and(|p| p.contains("/allow-"))
    })));
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    for t in 0..8 {
        for i in 0..40 {
            let kind = if (i + t) % 2 == 0 { "allow" } else { "deny" };
            std::fs::write(files.join(format!("{kind}-{t}-{i}")), "").unwrap();
        }
    }
    let prog = rampart_e2e::build::gcc_source(dir.path(), "threads", THREADS, &[]);
    let gen_file = c.dir().join("policy-generation");
    write_generation(&gen_file, 2);
    let mut cmd = Command::new(&prog);
    cmd.arg(&files);
    enforced(&mut cmd, &c, &gen_file);
    let w = c.run(&mut cmd);
    assert_eq!(String::from_utf8_lossy(&w.out.stdout), "wrong=0\n");
    let asked = c
        .frames_so_far()
        .into_iter()
        .filter(|f| {
            matches!(f, Frame::Event { wants_verdict: true, event, .. }
                if event.path().is_some_and(|p| p.contains("/files/")))
        })
        .count();
    assert_eq!(asked, 8 * 40, "every open asked once");
}

const FORK_EXEC_LOOP: &str = r#"
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 4; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            char *argv[] = {"/bin/true", NULL};
            execv("/bin/true", argv);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        printf("%d\n", WEXITSTATUS(st));
    }
    return 0;
}
"#;

#[test]
fn forked_children_share_the_cache_so_a_loop_asks_once() {
    let c = Collector::start_deciding(Some(Arc::new(|_| true)));
    let dir = tempfile::tempdir().unwrap();
    let prog = compile(dir.path(), "loop", FORK_EXEC_LOOP);
    let gen_file = c.dir().join("policy-generation");
    write_generation(&gen_file, 2);
    let mut cmd = Command::new(&prog);
    enforced(&mut cmd, &c, &gen_file);
    let w = c.run(&mut cmd);
    assert_eq!(String::from_utf8_lossy(&w.out.stdout), "0\n0\n0\n0\n");
    let execs: Vec<bool> = c
        .frames_so_far()
        .into_iter()
        .filter_map(|f| match f {
            Frame::Event {
                wants_verdict,
                event,
                ..
            } if matches!(&event.call, Call::Exec { path, .. } if path == "/bin/true") => {
                Some(wants_verdict)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        execs,
        [true, false, false, false],
        "the first child asks; its siblings find the verdict in the shared cache"
    );
    // Every exec is in the trail once, with its outcome.
    let ran = w
        .events
        .iter()
        .filter(|e| matches!(&e.call, Call::Exec { path, .. } if path == "/bin/true"))
        .count();
    assert_eq!(ran, 4);
}
