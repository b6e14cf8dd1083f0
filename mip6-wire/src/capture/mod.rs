//! Captures for humans and for replay tests: pcapng files of raw IPv6 packets
//! ([`pcapng`]) and the Wireshark `esp_sa` key table that lets Wireshark and tshark
//! decrypt our ESP (AES-GCM, RFC 4106) traffic ([`esp_sa`]).
//!
//! This module does file I/O through caller-provided `std::io::Write`/`Read` values
//! only; it never reads a clock (timestamps are given) and never opens files itself.

pub mod esp_sa;
pub mod pcapng;

#[cfg(test)]
mod test_tshark;

pub use esp_sa::{
    generation_records, home_registration_records, tshark_esp_args, write_esp_sa_file, AddrMatch,
    Direction, EspSaError, EspSaRecord,
};
pub use pcapng::{CapturedFrame, PcapngError, PcapngReader, PcapngWriter, LINKTYPE_IPV6};
