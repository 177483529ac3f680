//! SIGINT, SIGTERM and SIGHUP: no temporary file survives them (docs/security.md).
//!
//! Outside a series, the handler removes the temporaries being written (registered by
//! [`crate::output::OutputFile`]) and then lets the signal end the process as it would have
//! without a handler, so the caller sees "killed by SIGTERM" as usual. During a series the
//! signal is only recorded ([`defer`], [`pending`]): the sample being written is finished and
//! renamed, and the series stops with 128 + the signal number. A second signal while one is
//! pending acts at once (removes the temporary, ends the process).
//!
//! Only async-signal-safe work happens in the handler: atomic loads and swaps, `unlink`,
//! `signal`, `raise`. The registered paths live in a few atomic slots the handler takes from
//! (and never frees), so it never touches the allocator or a lock.

use std::ffi::{c_char, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

/// The signals a terminal, a CI runner or a service manager sends to stop a run.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Temporaries being written: more than one at a time never happens today, four is slack.
static SLOTS: [AtomicPtr<c_char>; 4] = [const { AtomicPtr::new(null_mut()) }; 4];
static DEFER: AtomicBool = AtomicBool::new(false);
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    if DEFER.load(Ordering::SeqCst) && PENDING.swap(signal, Ordering::SeqCst) == 0 {
        return;
    }
    for slot in &SLOTS {
        let path = slot.swap(null_mut(), Ordering::SeqCst);
        if !path.is_null() {
            // SAFETY: a NUL-terminated path registered below, never freed once taken here.
            unsafe { libc::unlink(path) };
        }
    }
    // SAFETY: back to the default action, then the signal again: it is delivered when this
    // handler returns and ends the process as if no handler had been installed.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Installs the handler for the stop signals; called once at start by the command line.
/// A signal that was ignored when membudget started (`nohup`) stays ignored. SIGXFSZ (a file
/// grown past `ulimit -f`) is ignored, so that the write fails with EFBIG and ends as any
/// other failed write (exit 2, temporary removed) instead of killing the process mid-file.
pub fn install() {
    // SAFETY: setting a disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    for signal in STOP_SIGNALS {
        // SAFETY: sigaction structs are plain data; the handler only does async-signal-safe
        // work. SA_RESTART keeps reads and writes from failing with EINTR.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut previous) == 0
                && previous.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// While `on`, a stop signal is recorded for [`pending`] instead of ending the process.
pub fn defer(on: bool) {
    PENDING.store(0, Ordering::SeqCst);
    DEFER.store(on, Ordering::SeqCst);
}

/// The stop signal received while deferred, if any.
pub fn pending() -> Option<i32> {
    Some(PENDING.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// Remembers a temporary for removal on a stop signal. Should all slots be taken, the file is
/// still removed on every other exit path, only not on a signal.
pub fn register_temporary(path: &Path) {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    let raw = c.into_raw();
    let taken = SLOTS.iter().any(|slot| {
        slot.compare_exchange(null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
    if !taken {
        // SAFETY: `raw` came from into_raw above and was stored nowhere.
        drop(unsafe { CString::from_raw(raw) });
    }
}

/// Forgets a temporary (renamed into place or removed).
pub fn forget_temporary(path: &Path) {
    let wanted = path.as_os_str().as_bytes();
    for slot in &SLOTS {
        let raw = slot.load(Ordering::SeqCst);
        // SAFETY: a non-null slot holds a path from register_temporary; only the one caller
        // that swaps it out of its slot (here, or the handler, which never frees) owns it.
        if raw.is_null() || unsafe { CStr::from_ptr(raw) }.to_bytes() != wanted {
            continue;
        }
        if slot
            .compare_exchange(raw, null_mut(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // SAFETY: taken out of its slot just now, so nobody else can reach it.
            drop(unsafe { CString::from_raw(raw) });
        }
    }
}
