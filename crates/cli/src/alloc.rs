//! The allocator: mimalloc, which kept the harvest's peak memory lower than glibc's and serves
//! searches 10–18 % faster (BENCHMARKS.md), with freed memory returned sooner than it would.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (v2 and v3), which `libmimalloc-sys` does
/// not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// What a command does with the memory it uses: what it frees is given back sooner or at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Answering searches (`serve`, `demo`), harvests on a schedule among them; and the short
    /// commands, for which the delay makes no difference.
    Serving,
    /// A one-shot harvest, reindex or migration, whose peak is what counts.
    Batch,
}

impl Workload {
    /// Milliseconds a freed page is kept before it is given back to the system.
    fn purge_delay_ms(self) -> std::os::raw::c_long {
        match self {
            Workload::Serving => 100,
            Workload::Batch => 0,
        }
    }
}

/// mimalloc v3 keeps the pages a thread frees for a second (its default) before giving them
/// back. A search frees megabytes of buffers many times a second, so under load a second's worth
/// stayed resident: at 1M records, 100 ms keeps the serving peak 15–40 MB lower, with no CPU cost
/// that the citizen mix could tell apart; 0 kept it 33 MB lower again but cost 2.5–10 % of wrk's
/// throughput. A one-shot 1M harvest gives its freed pages back at once: its VmHWM went from
/// 453–466 MiB to 406–445 MiB at the same speed. An operator's own `MIMALLOC_PURGE_DELAY` wins.
pub fn return_freed_memory_sooner(workload: Workload) {
    if operator_set_purge_delay() {
        return;
    }
    // SAFETY: sets one of mimalloc's options, which it allows at any time from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, workload.purge_delay_ms()) }
}

/// Whether the environment sets the delay (`RESET_DELAY` is its older name).
fn operator_set_purge_delay() -> bool {
    std::env::var_os("MIMALLOC_PURGE_DELAY").is_some()
        || std::env::var_os("MIMALLOC_RESET_DELAY").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::os::raw::c_long {
        // SAFETY: reads one of mimalloc's options.
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    #[test]
    fn the_option_set_is_the_purge_delay() {
        if operator_set_purge_delay() {
            return;
        }
        // v3's documented default for the purge delay, which no neighbouring option has: the
        // index names that option.
        let serving = Workload::Serving.purge_delay_ms();
        if ![serving, 0].contains(&purge_delay()) {
            assert_eq!(purge_delay(), 1000);
        }
        return_freed_memory_sooner(Workload::Batch);
        assert_eq!(purge_delay(), 0);
        return_freed_memory_sooner(Workload::Serving);
        assert_eq!(purge_delay(), serving);
    }
}
