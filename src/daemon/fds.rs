//! Scripts get stdin, stdout and stderr only. Every descriptor lvsd opens itself is close-on-exec
//! (Rust's std, tokio, socket2 and netlink-sys all ask for it); this marks the ones lvsd inherited
//! from whoever started it (a shell, an init script, a test harness) the same way.

/// Marks every descriptor above stderr close-on-exec.
pub fn cloexec_inherited() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
    let r = unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if r == 0 {
        return;
    }
    // Kernels before 5.11: one by one.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD on a descriptor number; a closed one just fails with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn inherited_descriptors_become_close_on_exec() {
        let f = std::fs::File::open("/proc/self/status").expect("open");
        let fd = f.as_raw_fd();
        // SAFETY: flag changes on our own open descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
        cloexec_inherited();
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
    }
}
