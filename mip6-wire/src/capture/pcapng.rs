//! pcapng files of raw IPv6 packets (draft-ietf-opsawg-pcapng, "PCAP Now Generic").
//!
//! What this module writes: one Section Header Block (little-endian, version 1.0,
//! section length unknown), one Interface Description Block with link type
//! [`LINKTYPE_IPV6`] (229) and `if_tsresol` = 6 (microseconds), then one Enhanced
//! Packet Block per frame with the timestamp the caller gives (microseconds since
//! the Unix epoch; this module never reads a clock) and an optional `opt_comment`.
//! Files come out byte-identical on every host, so captures can be committed and
//! compared.
//!
//! Link type: tshark 4.0 dissects both 101 (`LINKTYPE_RAW`, shown as `raw:ipv6:…`)
//! and 229 (`LINKTYPE_IPV6`, shown as `ipv6:…`) as IPv6; this module writes 229,
//! which says "IPv6 only" and needs no version-nibble heuristic. scapy reads 229 as
//! `IPv6` too. The reader accepts both 229 and 101.
//!
//! Built on the `pcap-file` 2.x crate (`PcapNgWriter` / `PcapNgReader`), with one
//! correction: `pcap-file` 2.0 ignores `if_tsresol` and treats the raw 64-bit
//! timestamp of an Enhanced Packet Block as nanoseconds on both read and write. The
//! writer therefore hands it the raw microsecond count (declared by `if_tsresol` = 6)
//! and the reader rescales the raw count by the resolution its interface declares,
//! so files from other writers (dumpcap writes nanoseconds) read correctly too.
//!
//! NOT supported: more than one section in a file (a second Section Header Block is
//! read through, interfaces restart as the crate tracks them), Simple Packet Blocks
//! and the obsolete Packet Block (skipped, as are statistics, name-resolution and
//! unknown blocks), `if_tsoffset`, and link types other than 101 and 229 (an error).
//! The reader copies each frame into a fresh `Vec` (files are not a per-packet
//! network path) and `pcap-file` holds an 8 MB read buffer per reader; a block longer
//! than that buffer is reported as an error, never allocated.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, Endianness, PcapError};

use crate::error::Layer;

/// `LINKTYPE_IPV6` (229): every frame is an IPv6 packet starting at its fixed header.
pub const LINKTYPE_IPV6: u32 = 229;
/// `LINKTYPE_RAW` (101): every frame is an IPv4 or IPv6 packet; accepted when reading.
pub const LINKTYPE_RAW: u32 = 101;

/// `if_tsresol` written into the Interface Description Block: 10^-6 s (microseconds).
const TSRESOL_MICROS: u8 = 6;

/// Errors of the pcapng layer ([`Layer::Pcapng`]).
///
/// `block` counts the blocks of the file from 0 (the Section Header Block), so an
/// error can be found with `tshark` or a hex editor; `pcap-file` does not report
/// byte offsets.
#[derive(Debug, thiserror::Error)]
pub enum PcapngError {
    /// The underlying writer failed, or `pcap-file` refused a block while writing.
    #[error("{layer} write: {source}", layer = Layer::Pcapng)]
    Write {
        /// What `pcap-file` reported.
        #[source]
        source: PcapError,
    },
    /// A block could not be read or parsed (truncated file, bad block length, I/O).
    #[error("{layer} block {block}: {source}", layer = Layer::Pcapng)]
    Read {
        /// Index of the block in the file (0 is the Section Header Block).
        block: usize,
        /// What `pcap-file` reported.
        #[source]
        source: PcapError,
    },
    /// An Enhanced Packet Block names an interface no Interface Description Block declared.
    #[error("{layer} block {block}: packet on undeclared interface {interface_id}", layer = Layer::Pcapng)]
    UnknownInterface {
        /// Index of the block in the file.
        block: usize,
        /// The interface id the packet named.
        interface_id: u32,
    },
    /// The packet's interface has a link type other than 229 or 101.
    #[error("{layer} block {block}: link type {linktype} is not raw IPv6 (229 or 101)", layer = Layer::Pcapng)]
    LinkType {
        /// Index of the block in the file.
        block: usize,
        /// The link type the interface declared.
        linktype: u32,
    },
    /// The interface's `if_tsresol` cannot be represented (more than 10^-19 s or 2^-63 s).
    #[error("{layer} block {block}: unsupported if_tsresol {tsresol:#04x}", layer = Layer::Pcapng)]
    TsResolution {
        /// Index of the block in the file.
        block: usize,
        /// The raw `if_tsresol` octet.
        tsresol: u8,
    },
    /// The timestamp does not fit in a `u64` count of microseconds.
    #[error("{layer} block {block}: timestamp out of range", layer = Layer::Pcapng)]
    TimestampRange {
        /// Index of the block in the file.
        block: usize,
    },
    /// A frame is longer than a pcapng block can carry (`u32` lengths).
    #[error("{layer} write: frame of {len} octets is too long", layer = Layer::Pcapng)]
    FrameTooLong {
        /// Length of the frame handed to the writer.
        len: usize,
    },
}

/// Writes a pcapng file of raw IPv6 frames to any [`std::io::Write`].
///
/// The Section Header Block and the Interface Description Block are written by
/// [`PcapngWriter::new`]; each [`PcapngWriter::write_packet`] writes one Enhanced
/// Packet Block. Wrap files in a `BufWriter`; call [`PcapngWriter::into_inner`] and
/// flush to finish.
pub struct PcapngWriter<W: Write> {
    inner: PcapNgWriter<W>,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts a file: writes the Section Header Block and one Interface Description
    /// Block (link type 229, `if_tsresol` = 6, no snap length limit).
    pub fn new(writer: W) -> Result<Self, PcapngError> {
        let mut inner = PcapNgWriter::with_endianness(writer, Endianness::Little)
            .map_err(|source| PcapngError::Write { source })?;
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::IPV6,
            snaplen: 0,
            options: vec![InterfaceDescriptionOption::IfTsResol(TSRESOL_MICROS)],
        };
        inner
            .write_pcapng_block(idb)
            .map_err(|source| PcapngError::Write { source })?;
        Ok(PcapngWriter { inner })
    }

    /// Writes one frame (an IPv6 packet, starting at its fixed header) captured at
    /// `timestamp_us` microseconds since 1970-01-01 00:00:00 UTC.
    pub fn write_packet(&mut self, timestamp_us: u64, frame: &[u8]) -> Result<(), PcapngError> {
        self.write(timestamp_us, frame, None)
    }

    /// Like [`PcapngWriter::write_packet`], with an `opt_comment` that Wireshark shows
    /// as the packet comment (`frame.comment` in tshark 4.0).
    pub fn write_packet_with_comment(
        &mut self,
        timestamp_us: u64,
        frame: &[u8],
        comment: &str,
    ) -> Result<(), PcapngError> {
        self.write(timestamp_us, frame, Some(comment))
    }

    fn write(
        &mut self,
        timestamp_us: u64,
        frame: &[u8],
        comment: Option<&str>,
    ) -> Result<(), PcapngError> {
        let original_len = u32::try_from(frame.len())
            .map_err(|_| PcapngError::FrameTooLong { len: frame.len() })?;
        let options = match comment {
            Some(c) => vec![EnhancedPacketOption::Comment(Cow::Borrowed(c))],
            None => Vec::new(),
        };
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            // pcap-file 2.0 writes `timestamp.as_nanos()` as the raw count: hand it
            // the microsecond count, which is what if_tsresol = 6 declares.
            timestamp: Duration::from_nanos(timestamp_us),
            original_len,
            data: Cow::Borrowed(frame),
            options,
        };
        self.inner
            .write_pcapng_block(epb)
            .map_err(|source| PcapngError::Write { source })?;
        Ok(())
    }

    /// The underlying writer, to flush it between packets (a capture read while it is
    /// still being written, or cut by a `kill -9`, then ends at a whole block).
    pub fn get_mut(&mut self) -> &mut W {
        self.inner.get_mut()
    }

    /// Finishes writing and returns the underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.inner.into_inner()
    }
}

/// One packet read back from a pcapng file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Microseconds since 1970-01-01 00:00:00 UTC (rescaled from the interface's
    /// `if_tsresol`, truncated toward zero).
    pub timestamp_us: u64,
    /// The captured octets (an IPv6 packet for link type 229).
    pub data: Vec<u8>,
    /// The first `opt_comment` of the Enhanced Packet Block, if any.
    pub comment: Option<String>,
}

/// Reads the Enhanced Packet Blocks of a pcapng file of raw IPv6 frames.
///
/// An [`Iterator`] of `Result<CapturedFrame, PcapngError>` that ends after the first
/// error.
pub struct PcapngReader<R: Read> {
    inner: PcapNgReader<R>,
    /// Index of the next block (the Section Header Block, 0, was read by `new`).
    block: usize,
    failed: bool,
}

impl<R: Read> PcapngReader<R> {
    /// Opens a file: reads and checks its Section Header Block.
    pub fn new(reader: R) -> Result<Self, PcapngError> {
        let inner =
            PcapNgReader::new(reader).map_err(|source| PcapngError::Read { block: 0, source })?;
        Ok(PcapngReader {
            inner,
            block: 1,
            failed: false,
        })
    }

    /// Reads up to the next Enhanced Packet Block; `Ok(None)` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<CapturedFrame>, PcapngError> {
        loop {
            let block = self.block;
            let Some(next) = self.inner.next_block() else {
                return Ok(None);
            };
            self.block += 1;
            // Copy out what is needed; the block borrows the reader's buffer.
            let (interface_id, raw_ts, data, comment) = match next {
                Err(source) => return Err(PcapngError::Read { block, source }),
                Ok(Block::EnhancedPacket(epb)) => {
                    let comment = epb.options.iter().find_map(|o| match o {
                        EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                        _ => None,
                    });
                    // pcap-file 2.0 stores the raw count as if it were nanoseconds.
                    let raw = u64::try_from(epb.timestamp.as_nanos())
                        .map_err(|_| PcapngError::TimestampRange { block })?;
                    (epb.interface_id, raw, epb.data.to_vec(), comment)
                }
                Ok(_) => continue,
            };
            let idb = usize::try_from(interface_id)
                .ok()
                .and_then(|i| self.inner.interfaces().get(i))
                .ok_or(PcapngError::UnknownInterface {
                    block,
                    interface_id,
                })?;
            let linktype = u32::from(idb.linktype);
            if linktype != LINKTYPE_IPV6 && linktype != LINKTYPE_RAW {
                return Err(PcapngError::LinkType { block, linktype });
            }
            let tsresol = idb
                .options
                .iter()
                .find_map(|o| match o {
                    InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                    _ => None,
                })
                .unwrap_or(TSRESOL_MICROS);
            let timestamp_us = raw_to_micros(raw_ts, tsresol, block)?;
            return Ok(Some(CapturedFrame {
                timestamp_us,
                data,
                comment,
            }));
        }
    }
}

impl<R: Read> Iterator for PcapngReader<R> {
    type Item = Result<CapturedFrame, PcapngError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_frame() {
            Ok(frame) => frame.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Converts a raw timestamp count in units of `if_tsresol` to microseconds.
///
/// `if_tsresol`: most significant bit clear, units of 10^-n s; set, units of 2^-n s.
fn raw_to_micros(raw: u64, tsresol: u8, block: usize) -> Result<u64, PcapngError> {
    let bad_res = PcapngError::TsResolution { block, tsresol };
    let n = u32::from(tsresol & 0x7f);
    let micros: u128 = if tsresol & 0x80 == 0 {
        if n > 19 {
            return Err(bad_res);
        }
        if n >= 6 {
            u128::from(raw) / 10u128.pow(n - 6)
        } else {
            u128::from(raw) * 10u128.pow(6 - n)
        }
    } else {
        if n > 63 {
            return Err(bad_res);
        }
        (u128::from(raw) * 1_000_000) >> n
    };
    u64::try_from(micros).map_err(|_| PcapngError::TimestampRange { block })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_tshark;

    /// Three small IPv6 packets (hand-built, RFC 8200 §3 fixed header, next header
    /// 59 "No Next Header", payload length 0 or 4), addresses from 2001:db8::/32.
    fn frames() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (i, plen) in [(1u8, 0u8), (2, 4), (3, 0)] {
            let mut p = vec![0x60, 0, 0, 0, 0, plen, 59, 64];
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, i, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            p.extend(std::iter::repeat_n(0xab, usize::from(plen)));
            out.push(p);
        }
        out
    }

    const TIMES: [u64; 3] = [
        1_700_000_000_000_001,
        1_700_000_000_500_000,
        1_700_000_001_999_999,
    ];

    fn write_three() -> Vec<u8> {
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        let f = frames();
        w.write_packet(TIMES[0], &f[0]).unwrap();
        w.write_packet_with_comment(TIMES[1], &f[1], "BU from 2001:db8:2::100")
            .unwrap();
        w.write_packet(TIMES[2], &f[2]).unwrap();
        w.into_inner()
    }

    #[test]
    fn three_frames_round_trip() {
        let file = write_three();
        let got: Vec<CapturedFrame> = PcapngReader::new(&file[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let f = frames();
        assert_eq!(got.len(), 3);
        for i in 0..3 {
            assert_eq!(got[i].data, f[i]);
            assert_eq!(got[i].timestamp_us, TIMES[i]);
        }
        assert_eq!(got[0].comment, None);
        assert_eq!(got[1].comment.as_deref(), Some("BU from 2001:db8:2::100"));
    }

    /// The first two blocks, checked octet by octet against the pcapng layout
    /// (draft-ietf-opsawg-pcapng §4.1, §4.2, §4.3), little-endian.
    #[test]
    fn header_blocks_and_epb_layout() {
        let file = write_three();
        // Section Header Block: type, length 28, byte-order magic, version 1.0,
        // section length -1, trailing length 28.
        let shb: [u8; 28] = [
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
        ];
        assert_eq!(&file[..28], &shb);
        // Interface Description Block: type 1, length 32, link type 229, reserved,
        // snaplen 0, option if_tsresol (9) len 1 value 6 + 3 pad, opt_endofopt, length.
        let idb: [u8; 32] = [
            1, 0, 0, 0, 32, 0, 0, 0, 229, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0,
            32, 0, 0, 0,
        ];
        assert_eq!(&file[28..60], &idb);
        // Enhanced Packet Block: type 6, interface 0, timestamp high/low in microseconds.
        let epb = &file[60..];
        assert_eq!(&epb[..4], &[6, 0, 0, 0]);
        assert_eq!(&epb[8..12], &[0, 0, 0, 0]);
        let high = u32::from_le_bytes(epb[12..16].try_into().unwrap());
        let low = u32::from_le_bytes(epb[16..20].try_into().unwrap());
        assert_eq!((u64::from(high) << 32) | u64::from(low), TIMES[0]);
        assert_eq!(&epb[20..24], &[40, 0, 0, 0]);
        assert_eq!(&epb[24..28], &[40, 0, 0, 0]);
    }

    #[test]
    fn every_truncation_is_an_error_or_fewer_frames_never_a_panic() {
        let file = write_three();
        // Block boundaries, walked by each block's Block Total Length (offset 4).
        let mut bounds = vec![0usize];
        while *bounds.last().unwrap() < file.len() {
            let at = *bounds.last().unwrap();
            let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap());
            bounds.push(at + len as usize);
        }
        assert_eq!(bounds.len(), 6, "SHB, IDB, three EPBs: {bounds:?}");
        for cut in 0..file.len() {
            match PcapngReader::new(&file[..cut]) {
                Err(PcapngError::Read { block: 0, .. }) => assert!(cut < 28, "cut {cut}"),
                Err(e) => panic!("cut {cut}: unexpected {e}"),
                Ok(r) => {
                    let results: Vec<_> = r.collect();
                    let ok = results.iter().filter(|r| r.is_ok()).count();
                    // Frames whose whole block fits before the cut are read.
                    let whole = bounds[3..].iter().filter(|&&b| b <= cut).count();
                    assert_eq!(ok, whole, "cut {cut}");
                    // A cut inside a block ends with the error naming that block.
                    if !bounds.contains(&cut) {
                        let block = bounds.iter().filter(|&&b| b <= cut).count() - 1;
                        match results.last() {
                            Some(Err(PcapngError::Read { block: b, .. })) => {
                                assert_eq!(*b, block, "cut {cut}")
                            }
                            other => panic!("cut {cut}: {other:?}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn foreign_link_type_is_refused() {
        let mut file = write_three();
        file[36] = 1; // IDB link type 229 -> 1 (Ethernet)
        let mut r = PcapngReader::new(&file[..]).unwrap();
        match r.next() {
            Some(Err(PcapngError::LinkType {
                block: 2,
                linktype: 1,
            })) => {}
            other => panic!("{other:?}"),
        }
        assert!(r.next().is_none(), "iteration stops after an error");
    }

    #[test]
    fn resolutions_rescale() {
        assert_eq!(raw_to_micros(1_500, 6, 0).unwrap(), 1_500);
        assert_eq!(raw_to_micros(1_500_999, 9, 0).unwrap(), 1_500);
        assert_eq!(raw_to_micros(3, 3, 0).unwrap(), 3_000);
        assert_eq!(raw_to_micros(1 << 20, 0x80 | 20, 0).unwrap(), 1_000_000);
        assert!(matches!(
            raw_to_micros(1, 20, 7),
            Err(PcapngError::TsResolution {
                block: 7,
                tsresol: 20
            })
        ));
        assert!(matches!(
            raw_to_micros(u64::MAX, 0, 1),
            Err(PcapngError::TimestampRange { block: 1 })
        ));
    }

    /// tshark reads the file as IPv6 (`ipv6.src` of every frame) and shows the comment.
    #[test]
    fn tshark_reads_frames_as_ipv6() {
        let Some(tshark) = test_tshark::tshark("tshark_reads_frames_as_ipv6") else {
            return;
        };
        let path = test_tshark::temp_path("three.pcapng");
        std::fs::write(&path, write_three()).unwrap();
        let out = tshark.run(&[
            "-r",
            path.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.protocols",
            "-e",
            "ipv6.src",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.comment",
        ]);
        let _ = std::fs::remove_file(&path);
        let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(lines.len(), 3, "{out}");
        for (i, l) in lines.iter().enumerate() {
            let protocols = if i == 1 { "ipv6:data" } else { "ipv6" };
            assert_eq!(l[0], protocols, "{out}");
            assert_eq!(l[1], format!("2001:db8:{}::100", i + 1), "{out}");
        }
        assert_eq!(lines[0][2], "1700000000.000001000", "{out}");
        assert_eq!(lines[1][3], "BU from 2001:db8:2::100", "{out}");
    }

    proptest::proptest! {
        /// Any frames and timestamps written read back equal.
        #[test]
        fn round_trip(
            packets in proptest::collection::vec(
                (proptest::num::u64::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..300)),
                0..8,
            )
        ) {
            let mut w = PcapngWriter::new(Vec::new()).unwrap();
            for (i, (ts, data)) in packets.iter().enumerate() {
                if i % 2 == 0 {
                    w.write_packet(*ts, data).unwrap();
                } else {
                    w.write_packet_with_comment(*ts, data, "c").unwrap();
                }
            }
            let file = w.into_inner();
            let got: Vec<CapturedFrame> =
                PcapngReader::new(&file[..]).unwrap().collect::<Result<_, _>>().unwrap();
            proptest::prop_assert_eq!(got.len(), packets.len());
            for (i, (g, (ts, data))) in got.iter().zip(&packets).enumerate() {
                proptest::prop_assert_eq!(g.timestamp_us, *ts);
                proptest::prop_assert_eq!(&g.data, data);
                proptest::prop_assert_eq!(g.comment.is_some(), i % 2 == 1);
            }
        }

        /// Arbitrary bytes after a valid header never panic the reader.
        #[test]
        fn garbage_never_panics(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut file = PcapngWriter::new(Vec::new()).unwrap().into_inner();
            file.extend_from_slice(&tail);
            if let Ok(r) = PcapngReader::new(&file[..]) {
                for _ in r {}
            }
        }
    }
}
