//! Reading a stopped tracee's memory: C strings, argv arrays and small
//! structs, with `process_vm_readv`, one page at a time so a read never
//! crosses into an unmapped page (falls back to `/proc/TID/mem` where
//! `process_vm_readv` is refused).
//!
//! Read-only: it never writes tracee memory, and every read is bounded.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Reads are cut at 4 KiB boundaries: never larger than the real page size.
const CHUNK: u64 = 4096;
/// The longest path the kernel accepts (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Largest number of remote iovecs in one `process_vm_readv`.
const IOV_BATCH: usize = 1024;

/// Copy up to `buf.len()` bytes at `addr` of `tid`; returns how many were read
/// (short at the first unreadable byte).
pub fn read_bytes(tid: i32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: the local iovec covers `buf`; the remote one is only read by the kernel.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    if n >= 0 {
        return Ok(n as usize);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::ENOSYS) => {
            let mem = File::open(format!("/proc/{tid}/mem"))?;
            mem.read_at(buf, addr)
        }
        _ => Err(err),
    }
}

/// Bytes from `addr` to the next chunk boundary.
fn to_boundary(addr: u64) -> u64 {
    CHUNK - (addr % CHUNK)
}

/// Read a NUL-terminated string of at most `max` bytes. Returns the bytes and
/// whether the string was cut at `max`. A string that cannot be read up to
/// its NUL (or `max`) is an error, `EFAULT`: the kernel fails the call the
/// same way, unless the memory is readable to it only (`memfd_secret`),
/// where a string read in part would decide on another name than the
/// kernel's.
pub fn read_cstring(tid: i32, addr: u64, max: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut at = addr;
    let mut buf = [0u8; CHUNK as usize];
    loop {
        let want = (to_boundary(at) as usize).min(max + 1 - out.len());
        let got = read_bytes(tid, at, &mut buf[..want])?;
        if got == 0 {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        if let Some(nul) = buf[..got].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..nul]);
            return Ok((out, false));
        }
        out.extend_from_slice(&buf[..got]);
        if out.len() > max {
            out.truncate(max);
            return Ok((out, true));
        }
        if got < want {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        at += got as u64;
    }
}

/// Read a NULL-terminated array of pointers (argv) and the strings it points
/// at, within `budget` bytes of strings in all. Returns the strings and
/// whether anything was cut.
pub fn read_string_array(tid: i32, addr: u64, budget: usize) -> io::Result<(Vec<Vec<u8>>, bool)> {
    if addr == 0 {
        return Ok((Vec::new(), false));
    }
    let ptrs = read_pointer_array(tid, addr, budget)?;
    let mut truncated = ptrs.1;
    let ptrs = ptrs.0;
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(ptrs.len());
    // First pass: one batched read of each string up to its chunk boundary.
    let mut done: Vec<bool> = Vec::with_capacity(ptrs.len());
    for batch in ptrs.chunks(IOV_BATCH) {
        let lens: Vec<usize> = batch.iter().map(|p| to_boundary(*p) as usize).collect();
        let total: usize = lens.iter().sum();
        let mut buf = vec![0u8; total];
        let remote: Vec<libc::iovec> = batch
            .iter()
            .zip(&lens)
            .map(|(p, l)| libc::iovec {
                iov_base: *p as *mut libc::c_void,
                iov_len: *l,
            })
            .collect();
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: total,
        };
        // SAFETY: `local` covers `buf`; the remote iovecs are only read.
        let n = unsafe {
            libc::process_vm_readv(tid, &local, 1, remote.as_ptr(), remote.len() as u64, 0)
        };
        let got = if n < 0 { 0 } else { n as usize };
        let mut off = 0;
        for l in &lens {
            let end = (off + l).min(got);
            let piece = if off < end { &buf[off..end] } else { &[][..] };
            match piece.iter().position(|&b| b == 0) {
                Some(nul) => {
                    out.push(piece[..nul].to_vec());
                    done.push(true);
                }
                None => {
                    out.push(Vec::new());
                    done.push(false);
                }
            }
            off += l;
        }
    }
    // Second pass: strings longer than their first chunk, or not read above.
    let mut used: usize = 0;
    for (i, s) in out.iter_mut().enumerate() {
        let room = budget.saturating_sub(used);
        if !done[i] {
            match read_cstring(tid, ptrs[i], room.min(usize::MAX - 1)) {
                Ok((bytes, cut)) => {
                    *s = bytes;
                    truncated |= cut;
                }
                Err(_) => truncated = true,
            }
        } else if s.len() > room {
            s.truncate(room);
            truncated = true;
        }
        used += s.len() + 1;
    }
    Ok((out, truncated))
}

/// The pointers of a NULL-terminated array, at most `max_entries`.
fn read_pointer_array(tid: i32, addr: u64, max_entries: usize) -> io::Result<(Vec<u64>, bool)> {
    let mut ptrs = Vec::new();
    let mut at = addr;
    let mut buf = [0u8; CHUNK as usize];
    loop {
        let want = to_boundary(at) as usize;
        let got = read_bytes(tid, at, &mut buf[..want])?;
        if got < 8 {
            if ptrs.is_empty() {
                return Err(io::Error::from_raw_os_error(libc::EFAULT));
            }
            return Ok((ptrs, true));
        }
        for word in buf[..got - got % 8].chunks_exact(8) {
            let p = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
            if p == 0 {
                return Ok((ptrs, false));
            }
            if ptrs.len() == max_entries {
                return Ok((ptrs, true));
            }
            ptrs.push(p);
        }
        at += (got - got % 8) as u64;
    }
}

/// Read a plain struct of `T` (a sockaddr, an `open_how`), or as much of it
/// as is readable, into a zeroed value.
pub fn read_struct<T: Copy>(tid: i32, addr: u64, len: usize) -> io::Result<(T, usize)> {
    // SAFETY: callers use plain-data C structs for which all-zero is valid.
    let mut v: T = unsafe { std::mem::zeroed() };
    let len = len.min(std::mem::size_of::<T>());
    // SAFETY: the slice covers the first `len` bytes of `v`.
    let bytes = unsafe { std::slice::from_raw_parts_mut((&mut v as *mut T).cast::<u8>(), len) };
    let got = read_bytes(tid, addr, bytes)?;
    Ok((v, got))
}
