//! The liveness interface: a tun device that exists only while lvsd holds its descriptor. Every
//! announced VIP is a BIRD static route through it, and BIRD keeps a route through an interface
//! only while that interface is up; when lvsd's process ends in any way (SIGKILL, a crash, the OOM
//! killer) the kernel closes the descriptor, deletes the device and BIRD withdraws every VIP. The
//! descriptor is close-on-exec, so no script lvsd runs can keep the device alive after lvsd.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[derive(Debug, thiserror::Error)]
pub enum TieError {
    #[error("liveness interface {name}: {what}: {err}")]
    Io {
        name: String,
        what: &'static str,
        err: std::io::Error,
    },
}

/// The open device; dropping it deletes the device.
#[derive(Debug)]
pub struct Tie {
    name: String,
    fd: OwnedFd,
    up: bool,
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn ifreq(name: &str) -> IfReqFlags {
    let mut r = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    for (d, s) in r.name.iter_mut().zip(name.bytes().take(libc::IFNAMSIZ - 1)) {
        *d = s as libc::c_char;
    }
    r
}

impl Tie {
    /// Creates the device, down. Fails when the name is taken (another lvsd with the same
    /// liveness_interface, or another device of that name).
    pub fn create(name: &str) -> Result<Tie, TieError> {
        let io = |what, err| TieError::Io {
            name: name.to_string(),
            what,
            err,
        };
        if std::fs::metadata(format!("/sys/class/net/{name}")).is_ok() {
            return Err(io(
                "creating the tun device",
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "an interface of that name exists already (another lvsd with the same liveness_interface?)",
                ),
            ));
        }
        // SAFETY: a NUL-terminated path and flags; the result is checked.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if raw < 0 {
            return Err(io("opening /dev/net/tun", std::io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a descriptor this function just opened and owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = ifreq(name);
        req.flags = IFF_TUN | IFF_NO_PI;
        // SAFETY: TUNSETIFF reads and writes an ifreq, which `req` is laid out as.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req) } < 0 {
            return Err(io(
                "creating the tun device",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(Tie {
            name: name.to_string(),
            fd,
            up: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Brings the device up (BIRD's routes through it become usable) or down.
    pub fn set_up(&mut self, up: bool) -> Result<(), TieError> {
        let io = |what, err| TieError::Io {
            name: self.name.clone(),
            what,
            err,
        };
        // SAFETY: plain socket call, checked.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io("socket", std::io::Error::last_os_error()));
        }
        // SAFETY: just opened, owned here.
        let sock = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = ifreq(&self.name);
        // SAFETY: SIOCGIFFLAGS / SIOCSIFFLAGS take an ifreq with the flags at this offset.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } < 0 {
            return Err(io("reading its flags", std::io::Error::last_os_error()));
        }
        if up {
            req.flags |= libc::IFF_UP as libc::c_short;
        } else {
            req.flags &= !(libc::IFF_UP as libc::c_short);
        }
        // SAFETY: as above.
        if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &mut req) } < 0 {
            return Err(io(
                if up {
                    "bringing it up"
                } else {
                    "bringing it down"
                },
                std::io::Error::last_os_error(),
            ));
        }
        self.up = up;
        Ok(())
    }

    /// The descriptor, for tests that check it is close-on-exec.
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}
