//! Live capture on an interface, through `pnet_datalink` (behind the `capture` feature).
//!
//! pnet's receiver blocks, so it runs on its own thread (`HandOff::run`) and hands
//! frames to the reader over a bounded channel: when the reader falls behind, frames are
//! counted as dropped instead of stalling the capture. On loopback the thread also
//! removes the second copy of each packet ([`LoopbackDedup`]).

use super::*;
use pnet_datalink::{self as datalink, Channel, Config};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// An interface and its addresses, for `--list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: u32,
    pub mac: Option<String>,
    pub addresses: Vec<String>,
    pub up: bool,
    pub loopback: bool,
}

pub fn interfaces() -> Vec<InterfaceInfo> {
    datalink::interfaces()
        .into_iter()
        .map(|i| InterfaceInfo {
            up: i.is_up(),
            loopback: i.is_loopback(),
            name: i.name,
            index: i.index,
            mac: i.mac.map(|m| m.to_string()),
            addresses: i.ips.iter().map(|n| n.to_string()).collect(),
        })
        .collect()
}

/// The loopback interface's name (`lo` on Linux, `lo0` on macOS).
pub fn loopback_name() -> String {
    datalink::interfaces()
        .into_iter()
        .find(|i| i.is_loopback())
        .map(|i| i.name)
        .unwrap_or_else(|| "lo".into())
}

/// Decides in the capture thread whether a frame is wanted (the filter).
pub type Keep = Box<dyn Fn(&[u8]) -> bool + Send>;

/// Counters the capture thread keeps.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Frames the kernel handed to netlab.
    pub received: AtomicU64,
    /// Loopback second copies removed.
    pub duplicates: AtomicU64,
    /// Frames rejected by the filter in the capture thread.
    pub filtered: AtomicU64,
    /// Frames lost because the reader fell behind (the hand-off queue was full).
    pub dropped: AtomicU64,
}

/// A running capture: frames arrive on `frames`; set `stop` to end it.
pub struct LiveCapture {
    pub frames: Receiver<OwnedFrame>,
    pub stats: Arc<LiveStats>,
    pub stop: Arc<AtomicBool>,
    pub interface: String,
    pub loopback: bool,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Open pnet's receiving channel on `interface`, naming a refusal by the operating
/// system apart from other failures (it needs root or `CAP_NET_RAW`).
fn open_channel(
    interface: &datalink::NetworkInterface,
    config: Config,
) -> Result<Box<dyn datalink::DataLinkReceiver>, CaptureError> {
    let iface = &interface.name;
    match datalink::channel(interface, config) {
        Ok(Channel::Ethernet(_tx, rx)) => Ok(rx),
        Ok(_) => Err(CaptureError::UnsupportedInterface(iface.to_owned())),
        Err(source)
            if source.kind() == io::ErrorKind::PermissionDenied
                || source.raw_os_error() == Some(1) =>
        {
            Err(CaptureError::PermissionDenied {
                iface: iface.to_owned(),
                source,
            })
        }
        Err(source) => Err(CaptureError::Open {
            iface: iface.to_owned(),
            source,
        }),
    }
}

/// The capture thread's end of the hand-off: the bounded queue, the counters it
/// keeps and the flag that tells it to stop.
struct HandOff {
    tx: SyncSender<OwnedFrame>,
    stats: Arc<LiveStats>,
    stop: Arc<AtomicBool>,
}

impl HandOff {
    /// The capture thread: read frames until `stop` is set or the reader goes away,
    /// filtering, de-duplicating loopback copies and counting what it drops.
    fn run(self, mut rx: Box<dyn datalink::DataLinkReceiver>, keep: Keep, loopback: bool) {
        let (st, sp, tx) = (&self.stats, &self.stop, &self.tx);
        let mut dedup = LoopbackDedup::default();
        let start = Instant::now();
        while !sp.load(Ordering::Relaxed) {
            let bytes = match rx.next() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            st.received.fetch_add(1, Ordering::Relaxed);
            // Filter first: both copies of a packet match or both do not, and
            // unwanted traffic then costs no de-duplication work.
            if !keep(bytes) {
                st.filtered.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if loopback && dedup.is_duplicate(bytes, start.elapsed()) {
                st.duplicates.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // The time netlab read the frame, kept to the microsecond (the digits the
            // frame says it has, and what --write stores).
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let ts = Duration::new(now.as_secs(), now.subsec_micros() * 1000);
            let frame = OwnedFrame {
                ts,
                ts_digits: 6,
                link: LinkType::Ethernet,
                orig_len: bytes.len() as u32,
                data: bytes.to_vec(),
            };
            match tx.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    st.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
    }
}

impl LiveCapture {
    /// Open a capture on `iface`. `keep` decides, in the capture thread, whether a
    /// frame is wanted (the filter), so unwanted frames never cross the queue.
    pub fn start(iface: &str, queue: usize, keep: Keep) -> Result<LiveCapture, CaptureError> {
        let interface = datalink::interfaces()
            .into_iter()
            .find(|i| i.name == iface)
            .ok_or_else(|| CaptureError::NoSuchInterface(iface.to_owned()))?;
        let loopback = interface.is_loopback();
        // A short read timeout lets the thread notice `stop` on a silent link. The
        // read buffer must hold the largest frame: `lo`'s MTU is 65,536, so a full-size
        // IPv4 packet makes a 65,549-byte frame, and pnet cuts anything longer than its
        // buffer without saying so. 262,144 is tcpdump's default snapshot length.
        let config = Config {
            read_timeout: Some(Duration::from_millis(50)),
            read_buffer_size: SNAPLEN,
            ..Config::default()
        };
        let rx = open_channel(&interface, config)?;
        let (tx, frames) = sync_channel::<OwnedFrame>(queue);
        let stats = Arc::new(LiveStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let hand_off = HandOff {
            tx,
            stats: stats.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("capture-{iface}"))
            .spawn(move || hand_off.run(rx, keep, loopback))
            .map_err(|source| CaptureError::Open {
                iface: iface.to_owned(),
                source,
            })?;
        Ok(LiveCapture {
            frames,
            stats,
            stop,
            interface: iface.to_owned(),
            loopback,
            thread: Some(thread),
        })
    }

    /// Wait up to `timeout` for the next frame.
    pub fn next_timeout(&self, timeout: Duration) -> Option<OwnedFrame> {
        self.frames.recv_timeout(timeout).ok()
    }

    /// Stop the thread and wait for it (it notices within its 50 ms read timeout).
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
