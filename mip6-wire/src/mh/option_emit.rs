//! Laying mobility options out for emit (RFC 6275 §6.2): Pad1/PadN before each option so
//! it starts at its `xn+y` alignment counted from the first octet of the Mobility
//! Header, and a final Pad1/PadN so the whole Mobility Header is a multiple of 8 octets
//! (RFC 6275 §6.1.1, Header Len).
//!
//! Padding an option list already carries (`MobilityOption::Pad1`/`PadN` in the slice)
//! is emitted as given; alignment padding is added only where an option would otherwise
//! be misaligned, so a list parsed from well-aligned bytes re-emits to the same bytes.
//!
//! Not supported: RFC 6275 §6.2.7's "Binding Authorization Data must be last" is the
//! caller's ordering to keep; this module does not reorder.

use super::option::MobilityOption;

fn pad_len(options: &[MobilityOption<'_>], start: usize) -> usize {
    let mut pos = start;
    for o in options {
        pos += o.alignment().padding_at(pos);
        pos += o.buffer_len();
    }
    pos += (8 - pos % 8) % 8;
    pos - start
}

/// Octets [`emit_options`] writes for `options` when they start `start` octets into the
/// Mobility Header: options, alignment padding and the final padding to a multiple of 8.
pub fn options_buffer_len(options: &[MobilityOption<'_>], start: usize) -> usize {
    pad_len(options, start)
}

/// Writes `n` octets of padding: nothing, Pad1, or PadN with `n - 2` zero octets
/// (RFC 6275 §6.2.2, §6.2.3).
fn emit_padding(n: usize, buf: &mut [u8]) {
    match n {
        0 => {}
        1 => MobilityOption::Pad1.emit(buf),
        // Alignment and final padding never exceed 7 octets.
        n => MobilityOption::PadN((n - 2) as u8).emit(buf),
    }
}

/// Writes `options` into `buf`, which begins `start` octets into the Mobility Header,
/// with the padding described in the module doc; returns the octets written
/// (= [`options_buffer_len`]).
///
/// # Panics
/// When `buf` is shorter than `options_buffer_len(options, start)` or an option's data
/// is over 255 octets.
pub fn emit_options(options: &[MobilityOption<'_>], start: usize, buf: &mut [u8]) -> usize {
    let mut at = 0;
    for o in options {
        let pad = o.alignment().padding_at(start + at);
        emit_padding(pad, &mut buf[at..]);
        at += pad;
        o.emit(&mut buf[at..]);
        at += o.buffer_len();
    }
    let pad = (8 - (start + at) % 8) % 8;
    emit_padding(pad, &mut buf[at..]);
    at + pad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mh::option::tests::any_option;
    use crate::mh::option::VendorSpecific;
    use crate::mh::Options;
    use proptest::prelude::*;

    #[test]
    fn bu_layout_alt_coa_then_vendor_specific() {
        // Options of a BU start at 12 (RFC 6275 §6.1.7). Alternate CoA needs 8n+6:
        // PadN(0) at 12, option at 14..32. Vendor-Specific needs 4n+2: PadN(0) at 32,
        // option at 34..43 (2 data octets). Final padding 43 -> 48: PadN(3).
        let coa = "2001:db8:2::100".parse().unwrap();
        let opts = [
            MobilityOption::AlternateCareOfAddress(coa),
            MobilityOption::VendorSpecific(VendorSpecific {
                vendor_id: 32473,
                sub_type: 2,
                data: &[0xAB, 0xCD],
            }),
        ];
        assert_eq!(options_buffer_len(&opts, 12), 36);
        let mut buf = [0xFF; 40];
        assert_eq!(emit_options(&opts, 12, &mut buf), 36);
        let expected: [u8; 36] = [
            1, 0, // PadN(0) at 12
            3, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // at 14
            1, 0, // PadN(0) at 32
            19, 7, 0, 0, 0x7e, 0xd9, 2, 0xAB, 0xCD, // at 34
            1, 3, 0, 0, 0, // PadN(3) at 43
        ];
        assert_eq!(&buf[..36], &expected);
        assert_eq!(&buf[36..], &[0xFF; 4]);
    }

    #[test]
    fn no_options_pads_a_bu_to_16() {
        // RFC 6275 §6.1.7: a BU without options needs 4 octets of padding.
        let mut buf = [0xFF; 4];
        assert_eq!(options_buffer_len(&[], 12), 4);
        assert_eq!(emit_options(&[], 12, &mut buf), 4);
        assert_eq!(buf, [1, 2, 0, 0]);
        // One octet short of a multiple of 8: Pad1.
        let mut one = [0xFF; 1];
        assert_eq!(emit_options(&[], 23, &mut one), 1);
        assert_eq!(one, [0]);
        assert_eq!(options_buffer_len(&[], 24), 0);
    }

    proptest! {
        #[test]
        fn layout_is_aligned_padded_and_parses_back(
            opts in proptest::collection::vec(any_option(), 0..6),
            start in 6usize..40,
        ) {
            let len = options_buffer_len(&opts, start);
            let mut buf = vec![0xFF; len];
            prop_assert_eq!(emit_options(&opts, start, &mut buf), len);
            prop_assert_eq!((start + len) % 8, 0);
            let parsed = Options::new(&buf, start);
            prop_assert!(parsed.check_alignment().is_ok());
            let non_pad: Vec<_> = parsed.iter().map(|r| r.unwrap())
                .filter(|o| !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_)))
                .collect();
            let want: Vec<_> = opts.iter().copied()
                .filter(|o| !matches!(o, MobilityOption::Pad1 | MobilityOption::PadN(_)))
                .collect();
            prop_assert_eq!(non_pad, want);
            // Re-emitting the parsed list (padding included) gives the same bytes.
            let again: Vec<_> = parsed.iter().map(|r| r.unwrap()).collect();
            let mut buf2 = vec![0xFF; options_buffer_len(&again, start)];
            emit_options(&again, start, &mut buf2);
            prop_assert_eq!(buf2, buf);
        }
    }
}
