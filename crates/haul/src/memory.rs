//! Allocator tuning for a process that churns through multi-megabyte part
//! buffers.

/// Part buffers are megabytes each and live for one part. glibc serves
/// blocks that large with mmap, but the first time one is freed it raises its
/// mmap threshold above that size and serves later ones from the heap, where
/// freed parts fragment it. The worker's resident memory then crept up with
/// the length of an export (peak 72–80 MiB after 1M rows, 88–94 MiB after 5M
/// in the benchmark). A fixed threshold keeps every block of 1 MiB or more in
/// its own mapping, returned to the OS when freed: 42–49 MiB for both.
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes glibc's allocation strategy; it takes no
    // pointers, and `main` calls it before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
