//! The daemons' status (daemon contract, "Status JSON"), read over their control
//! sockets: a Unix stream, one request line `{"command":"status"}`, one JSON reply.
//!
//! The demo reads only the fields it reports, each with a default, so a daemon that
//! adds fields (or lacks one) still gives a report; the whole reply is kept too.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long one status request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `{"command": command}` to the control socket at `path` and returns the reply.
pub fn request(path: &Path, command: &str) -> io::Result<serde_json::Value> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let line = serde_json::json!({ "command": command }).to_string();
    stream.write_all(line.as_bytes())?;
    stream.write_all(b"\n")?;
    stream.flush()?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    serde_json::from_str(&reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Key generations made, by kind (HA and MN alike).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyEvents {
    /// Initializations (init key).
    pub initialization: u64,
    /// Updates (a new generation).
    pub update: u64,
    /// Resends of a generation whose Key Distribution was lost.
    pub resend: u64,
}

impl KeyEvents {
    /// Field-wise sum.
    pub fn plus(self, other: KeyEvents) -> KeyEvents {
        KeyEvents {
            initialization: self.initialization + other.initialization,
            update: self.update + other.update,
            resend: self.resend + other.resend,
        }
    }

    /// Field-wise `self - earlier`, never below zero.
    pub fn since(self, earlier: KeyEvents) -> KeyEvents {
        KeyEvents {
            initialization: self.initialization.saturating_sub(earlier.initialization),
            update: self.update.saturating_sub(earlier.update),
            resend: self.resend.saturating_sub(earlier.resend),
        }
    }
}

/// The HA's registration counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Registrations {
    /// BUs accepted.
    pub accepted: u64,
    /// BUs refused.
    pub refused: u64,
}

/// One binding in the HA's cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Binding {
    /// The MN's home address.
    pub home_address: String,
    /// Its care-of address.
    pub care_of_address: String,
    /// Sequence number of the last accepted BU.
    pub sequence: u64,
}

/// The part of `mip6-ha status --json` the demo uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HaStatus {
    /// The binding cache.
    pub bindings: Vec<Binding>,
    /// Key generations made, by kind.
    pub key_events: KeyEvents,
    /// BUs accepted and refused.
    pub registrations: Registrations,
}

/// The part of `mip6-mn status --json` the demo uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MnStatus {
    /// The current care-of address, if any.
    pub care_of_address: Option<String>,
    /// `registered`, `awaiting`, `idle` or `at-home`.
    pub registration: String,
    /// Key generations received, by kind.
    pub key_events: KeyEvents,
    /// Care-of address changes seen.
    pub handovers: u64,
    /// BUs sent.
    pub bu_sent: u64,
    /// BAs received.
    pub ba_received: u64,
    /// The last change of attachment and its cause (null before the first).
    #[serde(default)]
    pub movement: Option<MnMovement>,
}

/// The MN's status `movement`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MnMovement {
    /// `away`, `home` or `detached`.
    pub attachment: String,
    /// The care-of address, away.
    pub care_of_address: Option<String>,
    /// `router_advertisement` or `address_event`.
    pub cause: String,
    /// When the advertisement that formed the address arrived (µs since the epoch).
    pub advertisement_unix_us: Option<u64>,
}

impl MnStatus {
    /// Registered, at `coa` when given.
    pub fn registered_at(&self, coa: Option<&str>) -> bool {
        self.registration == "registered"
            && coa.is_none_or(|c| self.care_of_address.as_deref() == Some(c))
    }
}

/// Reads the HA's status.
pub fn ha(path: &Path) -> io::Result<HaStatus> {
    let value = request(path, "status")?;
    serde_json::from_value(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads the MN's status.
pub fn mn(path: &Path) -> io::Result<MnStatus> {
    let value = request(path, "status")?;
    serde_json::from_value(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn contract_examples_parse() {
        let ha: HaStatus = serde_json::from_str(
            r#"{"role":"ha","address":"2001:db8:1::1","uptime_s":12.3,"persistence":true,
 "bindings":[{"home_address":"2001:db8:1::100","care_of_address":"2001:db8:2::100",
              "sequence":7,"lifetime_left_s":580.0}],
 "keys":[],
 "key_events":{"initialization":1,"update":5,"resend":1},
 "registrations":{"accepted":9,"refused":0},
 "drops":{}, "frames":{"net_in":1,"net_out":2,"tun_in":3,"tun_out":4}}"#,
        )
        .unwrap();
        assert_eq!(ha.bindings[0].care_of_address, "2001:db8:2::100");
        assert_eq!(
            ha.key_events,
            KeyEvents {
                initialization: 1,
                update: 5,
                resend: 1
            }
        );
        assert_eq!(ha.registrations.accepted, 9);
        let mn: MnStatus = serde_json::from_str(
            r#"{"role":"mn","home_address":"2001:db8:1::100","home_agent":"2001:db8:1::1",
 "care_of_address":"2001:db8:2::100","registration":"registered",
 "sequence":7,"lifetime_left_s":580.0,"keys":{"transmit":"newest","generations":[]},
 "key_events":{"initialization":1,"update":5,"resend":1},
 "handovers":2, "bu_sent":20, "ba_received":18, "drops":{}, "frames":{}}"#,
        )
        .unwrap();
        assert!(mn.registered_at(Some("2001:db8:2::100")));
        assert!(!mn.registered_at(Some("2001:db8:3::100")));
        assert_eq!((mn.handovers, mn.bu_sent, mn.ba_received), (2, 20, 18));
        let idle: MnStatus =
            serde_json::from_str(r#"{"care_of_address":null,"registration":"idle"}"#).unwrap();
        assert!(!idle.registered_at(None));
    }

    #[test]
    fn key_event_arithmetic() {
        let a = KeyEvents {
            initialization: 1,
            update: 4,
            resend: 0,
        };
        let b = KeyEvents {
            initialization: 1,
            update: 6,
            resend: 2,
        };
        assert_eq!(
            b.since(a),
            KeyEvents {
                initialization: 0,
                update: 2,
                resend: 2
            }
        );
        assert_eq!(a.since(b).update, 0);
        assert_eq!(a.plus(b).update, 10);
    }

    #[test]
    fn request_speaks_the_control_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&stream).read_line(&mut line).unwrap();
            let asked: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(asked, serde_json::json!({"command": "status"}));
            (&stream)
                .write_all(br#"{"registration":"registered","care_of_address":"2001:db8:3::100"}"#)
                .unwrap();
        });
        let status = mn(&path).unwrap();
        server.join().unwrap();
        assert!(status.registered_at(Some("2001:db8:3::100")));
        assert!(request(&dir.path().join("none.sock"), "status").is_err());
    }
}
