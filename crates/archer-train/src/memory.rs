//! The process's resident memory now (`/proc/self/statm`), its peak as Linux counts it (`VmHWM` in `/proc/self/status`),
//! and its reset (`5` written to `/proc/self/clear_refs`), so that a trial measures what
//! its own training needed. Elsewhere nothing is measured.

/// The process's resident memory in MB (Linux; `None` elsewhere).
pub fn resident_mb() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096 / (1024 * 1024))
}

/// Starts a new peak: from now on, [`peak_rss_mib`] counts from the current resident size.
/// False where the kernel does not allow it (the peak then counts from the process start).
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident memory since the last [`reset_peak`] (or the process start), MiB;
/// `None` where `/proc/self/status` does not say.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_grows_with_what_the_process_touches() {
        if peak_rss_mib().is_none() || !reset_peak() {
            return; // not Linux, or the kernel refuses the reset
        }
        let before = peak_rss_mib().unwrap();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let after = peak_rss_mib().unwrap();
        assert!(after >= before + 60.0, "{before} MiB then {after} MiB");
    }
}
