//! A CPU wake-up latency request for the length of a traced run.
//!
//! Every watched call costs two ptrace stops, and each stop is a wake-up: the
//! tracee wakes the supervisor, the supervisor wakes the tracee. When the CPU
//! being woken sits in a deep idle state (or, in a virtual machine, has
//! halted its vCPU), that wake-up costs an inter-processor interrupt and the
//! idle state's exit latency: on the 2-vCPU KVM guests this project is
//! measured on, about 25 µs a stop, against 2–4 µs for a CPU that is polling.
//! That made up most of the trace backend's overhead.
//!
//! [`CpuLatency::request`] asks the kernel's PM QoS layer for a CPU latency
//! of 0 µs (`/dev/cpu_dma_latency`): idle CPUs then poll instead of sleeping,
//! so a wake-up is a flag the idle loop sees at once. The request holds while
//! the value's descriptor is open and ends when it is dropped (or when the
//! process dies, the kernel closes it). Idle CPUs use more power meanwhile;
//! `RAMPART_CPU_LATENCY_HINT=off` turns this off.
//!
//! The device is root's (mode 0600): for other users the request fails
//! quietly and the supervisor polls briefly itself instead
//! ([`crate::Options::cpu_latency_hint`]). This module changes nothing else on
//! the machine and never outlives the run that asked.

use std::fs::OpenOptions;
use std::io::Write;

/// The PM QoS request, held while this value lives.
#[derive(Debug)]
pub struct CpuLatency {
    _device: std::fs::File,
}

impl CpuLatency {
    const DEVICE: &'static str = "/dev/cpu_dma_latency";

    /// Ask for a 0 µs CPU wake-up latency; `None` where the kernel has no
    /// such device or this user may not open it.
    pub fn request() -> Option<CpuLatency> {
        // std opens every file O_CLOEXEC: no traced program inherits the request.
        let mut device = OpenOptions::new().write(true).open(Self::DEVICE).ok()?;
        // The device takes the latency as a binary 32-bit integer, in µs.
        device.write_all(&0i32.to_ne_bytes()).ok()?;
        Some(CpuLatency { _device: device })
    }
}
