//! The engine capture: a pcapng file of everything a daemon's engine consumed and
//! produced, in order, each packet timestamped with the exact `now` the engine was
//! given, plus the Wireshark `esp_sa` key log beside it (`<file>.esp_sa`).
//!
//! It serves two readers. In Wireshark every frame is a real IPv6 packet (link type
//! 229) and the key log decrypts the ESP. For a byte-exact replay (the `pcaps/`
//! tests) the packet comment says what each record was:
//!
//! | comment | what |
//! | --- | --- |
//! | `net-in` | a frame from the network, before the engine decrypted it in place |
//! | `net-out` | a frame the engine produced for the network |
//! | `tun-in` | a packet read from the TUN and handed to the engine to tunnel |
//! | `tun-out` | an inner packet the engine delivered, written to the TUN |
//! | `start` | the engine was built (`new(.., now, ..)`) from an empty state directory (pseudo-packet) |
//! | `restart` | the engine was built from stored records: a replay cannot start here (pseudo-packet) |
//! | `timeout` | `handle_timeout(now)` was called (pseudo-packet) |
//! | `care-of <addr>` / `care-of none` | the mobile node's care-of address changed (pseudo-packet) |
//! | `link-in <mac>` | a Neighbor Discovery packet from the home link, sent by Ethernet address `<mac>` (`handle_link`) |
//! | `link-out <mac>` | a packet the engine produced for the home link, to Ethernet address `<mac>` |
//!
//! A daemon records, for each input, the input first and then the outputs it caused
//! in the order the engine gave them: `tun-out` of a delivered packet, then the
//! `net-out` of a sealed data frame, then every `poll_transmit` frame.
//!
//! Pseudo-packets are a bare IPv6 header (next header 59, No Next Header, RFC 8200
//! §4.7) from and to the daemon's own address, so Wireshark shows them cleanly. The
//! key log holds secret keys: it is for labs and tests, like `SSLKEYLOGFILE`.
//!
//! Not supported: interfaces other than one raw-IPv6 interface; resuming a capture
//! across a restart (each run writes its own file).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::Ipv6Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use mip6_wire::capture::{write_esp_sa_file, EspSaRecord, PcapngError, PcapngReader, PcapngWriter};
use mip6_wire::Time;

/// The daemons' default limit on recorded engine inputs (`--capture-limit`).
pub const DEFAULT_LIMIT: u64 = 100_000;

/// What a capture record was (its packet comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// The engine was built with this `now` and no stored state.
    Start,
    /// The engine was built with this `now` from stored records.
    Restart,
    /// A frame from the network (`handle`), as received.
    NetIn,
    /// A frame sent to the network.
    NetOut,
    /// A packet from the TUN (`seal_data`).
    TunIn,
    /// A delivered inner packet written to the TUN.
    TunOut,
    /// `handle_timeout(now)`.
    Timeout,
    /// `set_care_of_address(now, ..)` (mobile node).
    CareOf(Option<Ipv6Addr>),
    /// A Neighbor Discovery packet from the home link and its Ethernet sender
    /// (`handle_link`, home agent).
    LinkIn([u8; 6]),
    /// A packet sent on the home link to this Ethernet address.
    LinkOut([u8; 6]),
}

/// `02:00:00:00:00:01`.
fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|o| format!("{o:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for octet in &mut mac {
        *octet = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

impl InputKind {
    fn comment(self) -> String {
        match self {
            InputKind::Start => "start".into(),
            InputKind::Restart => "restart".into(),
            InputKind::NetIn => "net-in".into(),
            InputKind::NetOut => "net-out".into(),
            InputKind::TunIn => "tun-in".into(),
            InputKind::TunOut => "tun-out".into(),
            InputKind::Timeout => "timeout".into(),
            InputKind::CareOf(Some(a)) => format!("care-of {a}"),
            InputKind::CareOf(None) => "care-of none".into(),
            InputKind::LinkIn(mac) => format!("link-in {}", format_mac(&mac)),
            InputKind::LinkOut(mac) => format!("link-out {}", format_mac(&mac)),
        }
    }

    fn parse(comment: &str) -> Option<InputKind> {
        Some(match comment {
            "start" => InputKind::Start,
            "restart" => InputKind::Restart,
            "net-in" => InputKind::NetIn,
            "net-out" => InputKind::NetOut,
            "tun-in" => InputKind::TunIn,
            "tun-out" => InputKind::TunOut,
            "timeout" => InputKind::Timeout,
            "care-of none" => InputKind::CareOf(None),
            other if other.starts_with("link-in ") => InputKind::LinkIn(parse_mac(&other[8..])?),
            other if other.starts_with("link-out ") => InputKind::LinkOut(parse_mac(&other[9..])?),
            other => InputKind::CareOf(Some(other.strip_prefix("care-of ")?.parse().ok()?)),
        })
    }
}

/// One record read back from an engine capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedInput {
    /// The `now` the engine was given.
    pub time: Time,
    /// What it was.
    pub kind: InputKind,
    /// The packet (for pseudo-packets, the bare IPv6 header).
    pub data: Vec<u8>,
}

/// Errors of the capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Creating or writing the files.
    #[error("capture {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The pcapng layer.
    #[error("capture {path}: {source}")]
    Pcapng {
        /// The file.
        path: PathBuf,
        /// The pcapng error.
        source: PcapngError,
    },
    /// A packet without a comment this module writes.
    #[error("capture {path}: packet {index} has no engine comment ({comment:?})")]
    NotAnEngineCapture {
        /// The file.
        path: PathBuf,
        /// Index of the packet.
        index: usize,
        /// Its comment.
        comment: Option<String>,
    },
}

/// The writer. Records are buffered; call [`EngineCapture::flush`] at the end of each
/// round of the event loop (it is also flushed on drop).
pub struct EngineCapture {
    path: PathBuf,
    writer: PcapngWriter<BufWriter<File>>,
    local: Ipv6Addr,
    sas: Vec<EspSaRecord>,
    written: u64,
    inputs: u64,
    limit: Option<u64>,
    stopped: bool,
    failed: bool,
}

impl std::fmt::Debug for EngineCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineCapture")
            .field("path", &self.path)
            .field("written", &self.written)
            .field("sas", &self.sas.len())
            .finish()
    }
}

impl EngineCapture {
    /// Creates `path` (mode 0600, replacing a previous file) and its `.esp_sa` key log.
    /// `local` is the daemon's own address, used in pseudo-packets.
    pub fn create(path: &Path, local: Ipv6Addr) -> Result<EngineCapture, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        let writer =
            PcapngWriter::new(BufWriter::new(file)).map_err(|source| CaptureError::Pcapng {
                path: path.to_owned(),
                source,
            })?;
        let capture = EngineCapture {
            path: path.to_owned(),
            writer,
            local,
            sas: Vec::new(),
            written: 0,
            inputs: 0,
            limit: None,
            stopped: false,
            failed: false,
        };
        capture.write_key_log()?;
        Ok(capture)
    }

    /// Stops recording after `inputs` engine inputs, each with all its outputs (a
    /// long data run would otherwise fill the disk); a replay then covers the inputs
    /// recorded, and none of them is cut from its outputs.
    pub fn set_limit(&mut self, inputs: u64) {
        self.limit = Some(inputs);
    }

    /// The key log's path: the capture's path with `.esp_sa` appended.
    pub fn key_log_path(&self) -> PathBuf {
        key_log_path(&self.path)
    }

    /// Records a frame received from the network, before `handle`.
    pub fn net_in(&mut self, now: Time, frame: &[u8]) {
        self.record(now, InputKind::NetIn, frame);
    }

    /// Records a frame sent to the network.
    pub fn net_out(&mut self, now: Time, frame: &[u8]) {
        self.record(now, InputKind::NetOut, frame);
    }

    /// Records a packet read from the TUN, before `seal_data`.
    pub fn tun_in(&mut self, now: Time, packet: &[u8]) {
        self.record(now, InputKind::TunIn, packet);
    }

    /// Records an inner packet written to the TUN.
    pub fn tun_out(&mut self, now: Time, packet: &[u8]) {
        self.record(now, InputKind::TunOut, packet);
    }

    /// Records the engine's construction at `now`: `from_stored_state` when it was
    /// given stored records (a replay needs those too, so it starts after a `start`).
    pub fn start(&mut self, now: Time, from_stored_state: bool) {
        let pseudo = self.pseudo_packet();
        let kind = if from_stored_state {
            InputKind::Restart
        } else {
            InputKind::Start
        };
        self.record(now, kind, &pseudo);
    }

    /// Writes the stored records the engine was built from (in the store's own
    /// encoding, one after another) to [`state_path`], mode 0600, synced: with key
    /// persistence they hold key secrets, like the key log.
    pub fn write_start_state(&self, encoded_records: &[u8]) -> Result<(), CaptureError> {
        let path = state_path(&self.path);
        let io_err = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err)?;
        file.write_all(encoded_records).map_err(io_err)?;
        file.sync_all().map_err(io_err)
    }

    /// Records a home-link packet from Ethernet sender `mac`, before `handle_link`.
    pub fn link_in(&mut self, now: Time, mac: [u8; 6], packet: &[u8]) {
        self.record(now, InputKind::LinkIn(mac), packet);
    }

    /// Records a packet sent on the home link to Ethernet address `mac`.
    pub fn link_out(&mut self, now: Time, mac: [u8; 6], packet: &[u8]) {
        self.record(now, InputKind::LinkOut(mac), packet);
    }

    /// Records a `handle_timeout(now)`.
    pub fn timeout(&mut self, now: Time) {
        let pseudo = self.pseudo_packet();
        self.record(now, InputKind::Timeout, &pseudo);
    }

    /// Records a care-of address change.
    pub fn care_of(&mut self, now: Time, coa: Option<Ipv6Addr>) {
        let pseudo = self.pseudo_packet();
        self.record(now, InputKind::CareOf(coa), &pseudo);
    }

    /// Adds SAs to the key log (duplicates ignored) and rewrites it.
    pub fn add_sas(&mut self, records: impl IntoIterator<Item = EspSaRecord>) {
        let mut changed = false;
        for r in records {
            if !self.sas.contains(&r) {
                self.sas.push(r);
                changed = true;
            }
        }
        if changed {
            if let Err(e) = self.write_key_log() {
                tracing::warn!(error = %e, "could not write the capture's key log");
            }
        }
    }

    /// Flushes buffered records to the file.
    pub fn flush(&mut self) {
        if let Err(e) = self.writer_flush() {
            self.fail(&e);
        }
    }

    fn writer_flush(&mut self) -> io::Result<()> {
        self.writer.get_mut().flush()
    }

    fn pseudo_packet(&self) -> [u8; 40] {
        let mut p = [0u8; 40];
        p[0] = 0x60;
        p[6] = 59; // No Next Header
        p[7] = 64;
        p[8..24].copy_from_slice(&self.local.octets());
        p[24..40].copy_from_slice(&self.local.octets());
        p
    }

    fn record(&mut self, now: Time, kind: InputKind, frame: &[u8]) {
        if self.failed || self.stopped {
            return;
        }
        let is_output = matches!(
            kind,
            InputKind::NetOut | InputKind::TunOut | InputKind::LinkOut(_)
        );
        if !is_output {
            if self.limit.is_some_and(|limit| self.inputs >= limit) {
                self.stopped = true;
                tracing::warn!(path = %self.path.display(), inputs = self.inputs, "capture limit reached: recording stops");
                return;
            }
            self.inputs += 1;
        }
        if let Err(e) =
            self.writer
                .write_packet_with_comment(now.as_micros(), frame, &kind.comment())
        {
            self.fail(&e);
            return;
        }
        self.written += 1;
    }

    fn fail(&mut self, e: &dyn std::fmt::Display) {
        tracing::error!(path = %self.path.display(), error = %e, "capture write failed: recording stops");
        self.failed = true;
    }

    fn write_key_log(&self) -> Result<(), CaptureError> {
        let path = self.key_log_path();
        let io_err = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        // Write a temporary file and rename it: a reader never sees half a key log.
        let tmp = path.with_extension("esp_sa.tmp");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err)?;
        let mut w = BufWriter::new(file);
        write_esp_sa_file(self.sas.iter(), &mut w).map_err(io_err)?;
        w.flush().map_err(io_err)?;
        drop(w);
        std::fs::rename(&tmp, &path).map_err(io_err)
    }
}

impl Drop for EngineCapture {
    fn drop(&mut self) {
        let _ = self.writer_flush();
    }
}

/// Where a daemon started from stored state keeps the records it started from, for
/// a replay: `path` with `.state` appended.
pub fn state_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".state");
    PathBuf::from(s)
}

/// The key log's path for a capture at `path`: `path` with `.esp_sa` appended.
pub fn key_log_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".esp_sa");
    PathBuf::from(s)
}

/// Reads an engine capture back, in order. A file cut short by a `kill -9` ends at
/// its last whole record.
pub fn read_inputs(path: &Path) -> Result<Vec<CapturedInput>, CaptureError> {
    let file = File::open(path).map_err(|source| CaptureError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut reader =
        PcapngReader::new(BufReader::new(file)).map_err(|source| CaptureError::Pcapng {
            path: path.to_owned(),
            source,
        })?;
    let mut out = Vec::new();
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            // A truncated last block (killed writer): keep what came before it.
            Err(e) if !out.is_empty() => {
                tracing::warn!(path = %path.display(), error = %e, "capture ends with a partial record");
                break;
            }
            Err(source) => {
                return Err(CaptureError::Pcapng {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let kind = frame
            .comment
            .as_deref()
            .and_then(InputKind::parse)
            .ok_or_else(|| CaptureError::NotAnEngineCapture {
                path: path.to_owned(),
                index: out.len(),
                comment: frame.comment.clone(),
            })?;
        out.push(CapturedInput {
            time: Time::from_micros(frame.timestamp_us),
            kind,
            data: frame.data,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mip6_wire::capture::{AddrMatch, EspSaRecord};

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn records_round_trip_with_their_kind_and_exact_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ha.pcapng");
        let local = addr("2001:db8:1::1");
        let mut cap = EngineCapture::create(&path, local).unwrap();
        let frame = [0x60u8, 0, 0, 0, 0, 0, 59, 64, 1, 2, 3];
        cap.start(Time::from_micros(1_700_000_000_000_000), false);
        cap.start(Time::from_micros(1_700_000_000_000_001), true);
        cap.net_in(Time::from_micros(1_700_000_000_123_456), &frame);
        cap.net_out(Time::from_micros(1_700_000_000_123_457), &frame[..8]);
        cap.tun_in(Time::from_micros(1_700_000_000_200_000), &frame);
        cap.tun_out(Time::from_micros(1_700_000_000_200_001), &frame);
        cap.timeout(Time::from_micros(1_700_000_001_000_000));
        cap.care_of(
            Time::from_micros(1_700_000_002_000_000),
            Some(addr("2001:db8:2::100")),
        );
        cap.care_of(Time::from_micros(1_700_000_003_000_000), None);
        cap.link_in(
            Time::from_micros(1_700_000_004_000_000),
            [0x02, 0, 0, 0, 0xab, 0x1f],
            &frame,
        );
        cap.link_out(
            Time::from_micros(1_700_000_004_000_001),
            [0x33, 0x33, 0xff, 0, 1, 0],
            &frame,
        );
        cap.flush();
        let back = read_inputs(&path).unwrap();
        let kinds: Vec<_> = back.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![
                InputKind::Start,
                InputKind::Restart,
                InputKind::NetIn,
                InputKind::NetOut,
                InputKind::TunIn,
                InputKind::TunOut,
                InputKind::Timeout,
                InputKind::CareOf(Some(addr("2001:db8:2::100"))),
                InputKind::CareOf(None),
                InputKind::LinkIn([0x02, 0, 0, 0, 0xab, 0x1f]),
                InputKind::LinkOut([0x33, 0x33, 0xff, 0, 1, 0]),
            ]
        );
        assert_eq!(back[9].data, frame);
        for bad in [
            "link-in 02:00:00:00:ab",
            "link-in 02:00:00:00:ab:1f:00",
            "link-out zz:00:00:00:00:00",
            "link-in",
        ] {
            assert_eq!(InputKind::parse(bad), None, "{bad}");
        }
        assert_eq!(back[2].time, Time::from_micros(1_700_000_000_123_456));
        assert_eq!(back[2].data, frame);
        assert_eq!(back[3].data, frame[..8]);
        // Pseudo-packets: a bare IPv6 header from and to the local address, NH 59.
        assert_eq!(back[6].data.len(), 40);
        assert_eq!(back[6].data[6], 59);
        assert_eq!(&back[6].data[8..24], &local.octets());
        assert_eq!(&back[6].data[24..40], &local.octets());
    }

    #[test]
    fn the_limit_stops_recording_and_the_key_log_is_rewritten_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mn.pcapng");
        let mut cap = EngineCapture::create(&path, addr("2001:db8:2::100")).unwrap();
        assert!(key_log_path(&path).exists());
        cap.write_start_state(&[1, 2, 3]).unwrap();
        assert_eq!(std::fs::read(state_path(&path)).unwrap(), [1, 2, 3]);
        cap.set_limit(2);
        for i in 0..5 {
            cap.timeout(Time::from_micros(1000 + i));
            // Outputs of a recorded input are kept whole.
            cap.net_out(Time::from_micros(1000 + i), &[0x60; 40]);
        }
        let rec = EspSaRecord::new(
            AddrMatch::Exact(addr("2001:db8:1::1")),
            AddrMatch::Any,
            0x1002,
            &[7u8; 20],
        )
        .unwrap();
        cap.add_sas([rec.clone(), rec.clone()]);
        cap.add_sas([rec]);
        drop(cap);
        let kinds: Vec<_> = read_inputs(&path).unwrap().iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                InputKind::Timeout,
                InputKind::NetOut,
                InputKind::Timeout,
                InputKind::NetOut
            ]
        );
        let log = std::fs::read_to_string(key_log_path(&path)).unwrap();
        assert_eq!(log.matches("0x00001002").count(), 1, "{log}");
        assert!(log.contains("\"2001:db8:1::1\",\"*\""), "{log}");
    }

    #[test]
    fn a_foreign_pcapng_is_refused_with_the_packet_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcapng");
        let mut w = PcapngWriter::new(File::create(&path).unwrap()).unwrap();
        w.write_packet(5, &[0x60; 40]).unwrap();
        drop(w);
        match read_inputs(&path) {
            Err(CaptureError::NotAnEngineCapture {
                index: 0,
                comment: None,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
