//! Errors shared by every layer of the wire crate.
//!
//! Each layer (Mobility Header, mobility options, extension headers, ESP, ...)
//! has its own error enum; all of them can carry a [`LenError`], which names the
//! layer, the offset at which the layer starts in the buffer handed to the
//! parser, the number of octets the layer needed, how many were there, and which
//! length field (if any) asked for that many.

use core::fmt;

/// The protocol layer an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Fixed IPv6 header (RFC 8200 §3).
    Ipv6,
    /// Destination Options header (RFC 8200 §4.6).
    DestinationOptions,
    /// Home Address destination option (RFC 6275 §6.3).
    HomeAddressOption,
    /// Type 2 Routing Header (RFC 6275 §6.4).
    RoutingHeaderType2,
    /// Any other IPv6 extension header walked over (RFC 8200 §4).
    ExtensionHeader,
    /// Mobility Header (RFC 6275 §6.1).
    MobilityHeader,
    /// Mobility options (RFC 6275 §6.2).
    MobilityOption,
    /// Vendor-Specific mobility option (RFC 5094) carrying a key-management sub-option.
    KeyOption,
    /// Encapsulating Security Payload (RFC 4303).
    Esp,
    /// IPv6-in-IPv6 tunnel (RFC 2473).
    Tunnel,
    /// ESP in UDP (RFC 3948).
    UdpEncapsulation,
    /// pcapng capture file.
    Pcapng,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Layer::Ipv6 => "IPv6 header",
            Layer::DestinationOptions => "Destination Options header",
            Layer::HomeAddressOption => "Home Address option",
            Layer::RoutingHeaderType2 => "type 2 routing header",
            Layer::ExtensionHeader => "extension header",
            Layer::MobilityHeader => "Mobility Header",
            Layer::MobilityOption => "mobility option",
            Layer::KeyOption => "key-management option",
            Layer::Esp => "ESP",
            Layer::Tunnel => "IPv6-in-IPv6 tunnel",
            Layer::UdpEncapsulation => "ESP in UDP",
            Layer::Pcapng => "pcapng",
        };
        f.write_str(name)
    }
}

/// A buffer was shorter than a layer needed.
///
/// `offset` is where the layer starts, relative to the start of the buffer the
/// caller handed to the parser that reports the error; `needed` and `actual`
/// count octets from `offset`. `length_field` names the header field whose value
/// asked for `needed` octets (`None` when the fixed part alone did not fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub struct LenError {
    /// Layer whose bytes were cut short.
    pub layer: Layer,
    /// Offset of the layer's first octet in the parsed buffer.
    pub offset: usize,
    /// Octets the layer needed from `offset`.
    pub needed: usize,
    /// Octets that were there from `offset`.
    pub actual: usize,
    /// The length field that asked for `needed` octets, if any.
    pub length_field: Option<&'static str>,
}

impl fmt::Display for LenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: needs {} octets",
            self.layer, self.offset, self.needed
        )?;
        if let Some(field) = self.length_field {
            write!(f, " (as its {field} says)")?;
        }
        write!(f, ", only {} present", self.actual)
    }
}

impl LenError {
    /// A length error for the fixed part of a layer (no length field involved).
    pub const fn fixed(layer: Layer, offset: usize, needed: usize, actual: usize) -> Self {
        LenError {
            layer,
            offset,
            needed,
            actual,
            length_field: None,
        }
    }

    /// A length error caused by a length field's value.
    pub const fn by_field(
        layer: Layer,
        offset: usize,
        needed: usize,
        actual: usize,
        length_field: &'static str,
    ) -> Self {
        LenError {
            layer,
            offset,
            needed,
            actual,
            length_field: Some(length_field),
        }
    }

    /// The same error, moved `by` octets further into an enclosing buffer.
    ///
    /// Used when an outer parser reports an inner layer's error relative to
    /// the outer buffer.
    #[must_use]
    pub const fn shifted(mut self, by: usize) -> Self {
        self.offset += by;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_error_names_layer_offset_and_field() {
        let e = LenError::by_field(Layer::MobilityHeader, 40, 24, 12, "Header Len");
        assert_eq!(
            e.to_string(),
            "Mobility Header at offset 40: needs 24 octets (as its Header Len says), only 12 present"
        );
        assert_eq!(e.shifted(8).offset, 48);
    }
}
