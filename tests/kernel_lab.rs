//! The kernel lab: boots Debian's kernel under qemu once and runs every IPVS check inside
//! (tests/lab/suite.sh): the ipvsadm smoke test, the ipvs crate's kernel test, and lvsd against
//! keepalived 2.2.7 on the same configurations (`ipvsadm -Ln` compared). Needs root and the lab's
//! packages (scripts/test-all installs them); without root it says so and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest puts fresh tmpfs on these, so files under them are not visible inside.
const HIDDEN_IN_GUEST: &[&str] = &["/tmp", "/run", "/var/tmp"];

fn hidden(p: &Path) -> bool {
    HIDDEN_IN_GUEST.iter().any(|h| p.starts_with(h))
}

/// A copy of the repository (without target/ and .git) and of the binaries where the guest sees them,
/// for checkouts under /tmp; removed when dropped.
struct Stage(PathBuf);

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else if e.file_type()?.is_file() {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The executable of the ipvs crate's kernel test, built now by cargo.
fn ipvs_kernel_test_binary(root: &Path) -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "test",
            "-p",
            "ipvs",
            "--test",
            "kernel",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(root)
        .output()
        .expect("cargo test --no-run");
    assert!(
        out.status.success(),
        "building the ipvs kernel test failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "kernel")
        .find_map(|v| v["executable"].as_str().map(String::from))
        .expect("no executable for the ipvs kernel test")
}

#[test]
fn kernel_lab_suite() {
    if !is_root() {
        eprintln!("kernel_lab_suite: skipped, needs root (qemu, namespaces in the guest)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ipvs_test = PathBuf::from(ipvs_kernel_test_binary(root));
    let mut lvsd = PathBuf::from(env!("CARGO_BIN_EXE_lvsd"));
    let mut lab_root = root.to_path_buf();
    let _stage = if hidden(root) || hidden(&lvsd) || hidden(&ipvs_test) {
        let stage = PathBuf::from("/var/cache/lvsd-lab/stage").join(std::process::id().to_string());
        copy_tree(root, &stage.join("repo")).expect("copy the repository for the guest");
        std::fs::create_dir_all(stage.join("bin")).expect("stage bin");
        std::fs::copy(&lvsd, stage.join("bin/lvsd")).expect("copy lvsd");
        std::fs::copy(&ipvs_test, stage.join("bin/ipvs-kernel-test"))
            .expect("copy the ipvs kernel test");
        lab_root = stage.join("repo");
        lvsd = stage.join("bin/lvsd");
        ipvs_test = stage.join("bin/ipvs-kernel-test");
        Some(Stage(stage))
    } else {
        None
    };
    let output = Command::new(lab_root.join("scripts/kernel-lab"))
        .arg("run")
        .arg(lab_root.join("tests/lab/suite.sh"))
        .env("LVSD_BIN", &lvsd)
        .env("LAB_IPVS_KERNEL_TEST", &ipvs_test)
        .env("KERNEL_LAB_QUIET", "1")
        // A guard against a hung guest, not an expectation: the suite takes about 10 minutes on
        // an idle 2-core machine and took over 20 with the machine loaded (two other test suites
        // and a second kernel lab), which the old 1,200 s guard cut short.
        .env("KERNEL_LAB_TIMEOUT", "3000")
        .output()
        .expect("scripts/kernel-lab could not be started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture, and kept in CI logs on failure.
    println!("{stdout}");
    assert!(
        output.status.success(),
        "kernel lab suite failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("suite: 0 failed part(s)"),
        "the guest did not report a clean run:\n{stdout}"
    );
    for part in ["smoke", "ipvs-crate", "ipvs-vs-keepalived"] {
        assert!(
            stdout.contains(&format!("=== {part}: passed")),
            "part {part} did not pass:\n{stdout}"
        );
    }
}
