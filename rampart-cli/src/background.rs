//! How rampart's own threads are scheduled while a tree runs: as background
//! work that never preempts the program it watches.
//!
//! A watched call wakes a thread of rampart's (the collector's server when
//! a frame arrives, the decide and audit stages after it, the tap when a
//! call past the hooks is notified). Unix sockets and seccomp notifications
//! wake synchronously: the kernel puts the woken thread on the caller's CPU
//! and, under the default policy, lets it preempt the caller, which had not
//! finished. Every record then cost the program two context switches, and
//! on a two-CPU machine a process start (a Hello, an exec frame, the
//! loader's opens) was held up by rampart's work on it.
//!
//! [`yield_to_the_tree`] makes the calling thread `SCHED_BATCH`: the same
//! share of the CPU as any thread (rampart is never starved under load),
//! but no wake-up preemption, so a woken thread runs on an idle CPU or when
//! the program blocks. Nothing that waits on rampart loses: a call that
//! needs a verdict (or a notification's answer) blocks its caller, which
//! frees the CPU at once. Measured on `scripts/bench-overhead.sh`'s 500
//! execs, the collector's threads as `SCHED_BATCH` took the preload
//! backend's overhead (without the tap) from 1.47x to 1.37x.
//!
//! Only threads and processes of rampart's own call it, never the thread
//! that starts the command: a policy set here is inherited by fork, and the
//! command runs with the scheduling it was given. A thread that is not
//! `SCHED_OTHER` (rampart run under `chrt`, say) is left as it is.

/// Make the calling thread `SCHED_BATCH` if it is `SCHED_OTHER`. Best
/// effort: a kernel or a seccomp policy that refuses leaves it unchanged.
pub fn yield_to_the_tree() {
    // SAFETY: plain system calls on the calling thread (pid 0 is the caller).
    unsafe {
        if libc::sched_getscheduler(0) != libc::SCHED_OTHER {
            return;
        }
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_of_the_default_policy_becomes_batch_and_others_are_left_alone() {
        // On threads of their own: the test harness's thread is not ours to change.
        let got = std::thread::spawn(|| {
            yield_to_the_tree();
            // SAFETY: plain system call on this thread.
            unsafe { libc::sched_getscheduler(0) }
        })
        .join()
        .unwrap();
        assert_eq!(got, libc::SCHED_BATCH);

        let kept = std::thread::spawn(|| {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: plain system calls on this thread.
            unsafe {
                assert_eq!(libc::sched_setscheduler(0, libc::SCHED_IDLE, &param), 0);
                yield_to_the_tree();
                libc::sched_getscheduler(0)
            }
        })
        .join()
        .unwrap();
        assert_eq!(kept, libc::SCHED_IDLE);
    }
}
