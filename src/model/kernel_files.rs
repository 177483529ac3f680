//! Figures of the kernel-wide files a capture takes when the kernel has them (COMMON contract
//! 3): each is `None` (or empty with its `seen` flag down) when the snapshot lacks it, so what a
//! board never showed stays unknown instead of reading as 0 B.

use crate::parse::modules::Module;
use crate::parse::swap::{MmStat, SwapDevice};
use crate::parse::sysvipc::ShmSegment;
use crate::parse::vm::{Pressure, Zones};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct KernelFiles {
    pub vmstat: Option<BTreeMap<String, u64>>,
    pub sysv_shm: Option<Vec<ShmSegment>>,
    pub swaps: Option<Vec<SwapDevice>>,
    pub pressure: Option<Pressure>,
    pub zones: Option<Zones>,
    pub modules: Option<Vec<Module>>,
    /// zram devices by name (`zram0`).
    pub zram: BTreeMap<String, Zram>,
    /// dma-buf buffers by inode (`sys/kernel/dmabuf/buffers/<inode>/`).
    pub dmabuf: BTreeMap<String, DmaBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Zram {
    pub disksize: Option<u64>,
    pub mm_stat: Option<MmStat>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DmaBuf {
    pub size: Option<u64>,
    pub exporter: Option<String>,
}
