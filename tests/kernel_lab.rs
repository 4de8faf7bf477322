//! Kernel lab smoke test: boots Debian's kernel in qemu and runs tests/lab/smoke.sh inside it
//! (IPVS through ipvsadm, every scheduler, netns, NAT through a VIP). Needs root and the lab's
//! packages, and takes about 20 s, so it runs only on request:
//! `cargo test --test kernel_lab -- --ignored`.

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "boots a qemu guest: needs root and the kernel lab packages (scripts/kernel-lab)"]
fn smoke_test_passes_in_the_kernel_lab() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(root.join("scripts/kernel-lab"))
        .arg("run")
        .arg(root.join("tests/lab/smoke.sh"))
        .output()
        .expect("scripts/kernel-lab could not be started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kernel lab smoke test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("smoke: 0 failure(s)"),
        "guest did not report a clean run:\n{stdout}"
    );
}
