//! The byte layout of a home agent's [`MnRecord`] (what [`crate::Event::Persist`]
//! gives the driver to store), version 1: the daemon's state store keeps it
//! (`mip6_ha_daemon::store`), and it lives beside the record so the engine bench
//! counts encoding it per Binding Update (issue 13, item 7).
//!
//! The value of each row is written by hand (the engine types carry no serde). All
//! integers in network order; every record has the same length, [`RECORD_LEN`];
//! an absent `Option` is a presence byte 0 followed by its field, all zero.
//!
//! ```text
//! offset len  field
//!   0     1   version = 1
//!   1    16   home_address
//!  17     1   binding present (0/1)
//!  18    16     care_of_address
//!  34     2     sequence
//!  36     4     lifetime_secs
//!  40     8     expires_at (µs since the Unix epoch)
//!  48     1   newest present (0/1)
//!  49    57     generation record (below)
//! 106     1   anterior present (0/1)
//! 107    57     generation record
//! 164     1   newest_confirmed (0/1)
//! 165     8   init_outbound_mark
//! 173     4   init_inbound_top
//! 177     1   last_init_timestamp present (0/1)
//! 178     8     last_init_timestamp (64-bit NTP)
//! 186         end
//!
//! generation record (57 octets):
//!   0     4   generation
//!   4    32   secret
//!  36     4   SPI MN→HA   (> 255, RFC 4303 §2.1)
//!  40     4   SPI HA→MN   (> 255)
//!  44     1   suite code point (1 = AES-128-GCM, 2 = AES-256-GCM)
//!  45     8   outbound_mark
//!  53     4   inbound_top
//! ```
//!
//! The row key is the 16-octet home address; it must equal the record's.
//! [`decode_record`] never panics: any other length, version, presence byte, flag,
//! suite, SPI, non-zero filler of an absent field, or key mismatch is a
//! [`DecodeError`].
//!

use std::net::Ipv6Addr;

use mip6_wire::keys::SpiPair;
use mip6_wire::mh::SequenceNumber;
use mip6_wire::record::{DecodeError, RecordReader, RecordWriter};
use mip6_wire::{Secret32, Time};

use crate::persist::{GenerationRecord, MnRecord};
use crate::BindingView;

/// The encoding version this module writes and reads.
pub const VERSION: u8 = 1;
/// Length of an encoded generation record.
const GENERATION_LEN: usize = 57;
/// Length of every encoded [`MnRecord`], version 1.
pub const RECORD_LEN: usize = 186;

/// Field offsets of the version-1 layout (module docs).
mod field {
    // The version byte is at offset 0, where `RecordReader::open` reads it.
    pub const HOME_ADDRESS: usize = 1;
    pub const BINDING: usize = 17;
    pub const BINDING_LEN: usize = 30;
    pub const NEWEST: usize = 48;
    pub const ANTERIOR: usize = 106;
    pub const CONFIRMED: usize = 164;
    pub const INIT_OUTBOUND_MARK: usize = 165;
    pub const INIT_INBOUND_TOP: usize = 173;
    pub const LAST_INIT_TIMESTAMP: usize = 177;
}

/// Encodes `record` in the version-1 layout (module docs).
pub fn encode_record(record: &MnRecord) -> [u8; RECORD_LEN] {
    let mut w = RecordWriter::<RECORD_LEN>::new();
    w.put(&[VERSION]);
    w.put(&record.home_address.octets());
    w.flag(record.binding.is_some());
    match &record.binding {
        Some(b) => {
            w.put(&b.care_of_address.octets());
            w.put(&b.sequence.0.to_be_bytes());
            w.put(&b.lifetime_secs.to_be_bytes());
            w.put(&b.expires_at.as_micros().to_be_bytes());
        }
        None => w.skip(field::BINDING_LEN),
    }
    for generation in [&record.newest, &record.anterior] {
        w.flag(generation.is_some());
        match generation {
            Some(g) => {
                w.put(&g.generation.to_be_bytes());
                w.put(g.secret.expose());
                w.put(&g.spis.mn_to_ha.to_be_bytes());
                w.put(&g.spis.ha_to_mn.to_be_bytes());
                w.put(&[g.suite.code()]);
                w.put(&g.outbound_mark.to_be_bytes());
                w.put(&g.inbound_top.to_be_bytes());
            }
            None => w.skip(GENERATION_LEN),
        }
    }
    w.flag(record.newest_confirmed);
    w.put(&record.init_outbound_mark.to_be_bytes());
    w.put(&record.init_inbound_top.to_be_bytes());
    w.flag(record.last_init_timestamp.is_some());
    w.put(&record.last_init_timestamp.unwrap_or(0).to_be_bytes());
    w.finish()
}

/// Reads one key generation (module docs).
fn read_generation(r: &mut RecordReader<'_>) -> Result<GenerationRecord, DecodeError> {
    Ok(GenerationRecord {
        generation: r.u32()?,
        secret: Secret32::new(r.take()?),
        spis: SpiPair {
            mn_to_ha: r.spi()?,
            ha_to_mn: r.spi()?,
        },
        suite: r.suite()?,
        outbound_mark: r.u64()?,
        inbound_top: r.u32()?,
    })
}

/// Decodes a version-1 record (module docs). Never panics.
pub fn decode_record(bytes: &[u8]) -> Result<MnRecord, DecodeError> {
    let mut r = RecordReader::open(bytes, VERSION, RECORD_LEN, field::HOME_ADDRESS)?;
    let home_address = Ipv6Addr::from(r.take::<16>()?);
    debug_assert_eq!(r.pos(), field::BINDING);
    let binding = r.option(field::BINDING_LEN, |r| {
        Ok(BindingView {
            care_of_address: Ipv6Addr::from(r.take::<16>()?),
            sequence: SequenceNumber(r.u16()?),
            lifetime_secs: r.u32()?,
            expires_at: Time::from_micros(r.u64()?),
        })
    })?;
    debug_assert_eq!(r.pos(), field::NEWEST);
    let newest = r.option(GENERATION_LEN, read_generation)?;
    debug_assert_eq!(r.pos(), field::ANTERIOR);
    let anterior = r.option(GENERATION_LEN, read_generation)?;
    debug_assert_eq!(r.pos(), field::CONFIRMED);
    let newest_confirmed = r.flag()?;
    debug_assert_eq!(r.pos(), field::INIT_OUTBOUND_MARK);
    let init_outbound_mark = r.u64()?;
    debug_assert_eq!(r.pos(), field::INIT_INBOUND_TOP);
    let init_inbound_top = r.u32()?;
    debug_assert_eq!(r.pos(), field::LAST_INIT_TIMESTAMP);
    let last_init_timestamp = r.option(8, RecordReader::u64)?;
    Ok(MnRecord {
        home_address,
        binding,
        newest,
        anterior,
        newest_confirmed,
        init_outbound_mark,
        init_inbound_top,
        last_init_timestamp,
    })
}
