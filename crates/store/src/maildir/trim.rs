//! Handing freed heap memory back to the system.
//!
//! glibc's allocator keeps the memory of freed chunks in its arenas: after the index
//! connections of a few hundred idle accounts are closed, their pages (~85 KiB per
//! account) stay resident though nothing uses them. `malloc_trim(0)` returns the free
//! pages of every arena (`madvise(MADV_DONTNEED)`), which brings the process back to what
//! it really holds. It is called only after the idle reaper closed something, off the
//! async threads.

/// Returns free heap pages to the system where the allocator supports it (glibc); a
/// no-op elsewhere.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointers and only walks the allocator's own arenas
    // under their locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
