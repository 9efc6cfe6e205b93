//! Huge page sizes: the OCI spelling (`2MB`) and the kernel's (`hugepages-2048kB`).

use std::path::Path;

/// `2MB` → 2048 (kB). `None` when not `<n>KB|MB|GB`.
pub fn page_size_kb(size: &str) -> Option<u64> {
    let (num, mult) = if let Some(n) = size.strip_suffix("KB") {
        (n, 1)
    } else if let Some(n) = size.strip_suffix("MB") {
        (n, 1024)
    } else if let Some(n) = size.strip_suffix("GB") {
        (n, 1024 * 1024)
    } else {
        return None;
    };
    num.parse::<u64>().ok().filter(|n| *n > 0).map(|n| n * mult)
}

/// 2048 (kB) → `2MB`, as the cgroup files spell it.
pub fn page_size_name(kb: u64) -> String {
    if kb >= 1024 * 1024 && kb.is_multiple_of(1024 * 1024) {
        format!("{}GB", kb / (1024 * 1024))
    } else if kb >= 1024 && kb.is_multiple_of(1024) {
        format!("{}MB", kb / 1024)
    } else {
        format!("{kb}KB")
    }
}

/// The page sizes this kernel offers (`2MB`, `1GB`), from /sys/kernel/mm/hugepages. None
/// when that directory is absent (a kernel without CONFIG_HUGETLBFS); an entry not named
/// `hugepages-<n>kB` is not a page size and is skipped.
pub fn available() -> Vec<String> {
    let mut out: Vec<(u64, String)> = std::fs::read_dir(Path::new("/sys/kernel/mm/hugepages"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let kb: u64 = n
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, page_size_name(kb)))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, n)| n).collect()
}

/// Writes a cgroup v2 hugetlb limit into `dir`: `hugetlb.<size>.rsvd.max` first when the
/// kernel has reservation accounting (the spec prefers reservation limits), then
/// `hugetlb.<size>.max`. A negative limit means `max`.
pub fn write_v2_limit(dir: &Path, size: &str, limit: i64) -> Result<(), crate::CgroupError> {
    let v = crate::convert::v2_limit(limit);
    let rsvd = format!("hugetlb.{size}.rsvd.max");
    if dir.join(&rsvd).exists() {
        crate::fsutil::write(dir, &rsvd, &v)?;
    }
    crate::fsutil::write(dir, &format!("hugetlb.{size}.max"), &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip() {
        assert_eq!(page_size_kb("2MB"), Some(2048));
        assert_eq!(page_size_kb("1GB"), Some(1024 * 1024));
        assert_eq!(page_size_kb("64KB"), Some(64));
        assert_eq!(page_size_kb("2M"), None);
        assert_eq!(page_size_kb("0MB"), None);
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1_048_576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }
}
