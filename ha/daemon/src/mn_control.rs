//! The home agent's `mn` commands on the control socket (issue 13, item 3): mobile
//! nodes listed, shown, added, imported and removed while the daemon runs, without
//! touching any other node's binding or keys.
//!
//! | command | args | answer |
//! | --- | --- | --- |
//! | `mn list` | `offset`, `limit` (a [`Page`]) | `mobile_nodes` (page info) and `nodes`: home address, `source` (`file` or `provisioned`), care-of address if bound |
//! | `mn show` | `home_address` | that node: source, binding, key generations (slot, number, SPIs) |
//! | `mn add` | `mobile_node`: one `[[mobile_node]]` table as TOML text | `added` |
//! | `mn import` | `path`: a file of `[[mobile_node]]` tables (read by the daemon) | `added` |
//! | `mn remove` | `home_address` (a provisioned node) | `removed` |
//!
//! Adding is all or nothing: every entry is checked ([`provision::parse_entries`];
//! not served yet, from the file or provisioned; its init SPIs in use by no served
//! node's keys) before the first is added. An added node resumes from its stored
//! record if it has one (a node removed and added again never seals twice under one
//! nonce, invariant 2). Added nodes are stored ([`provision`]) before the answer.
//! Only provisioned nodes are removed here; the file's are removed by editing the file
//! and sending SIGHUP. Removing keeps the node's engine record (its sequence marks).

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv6Addr;

use mip6_daemon::control::Page;
use mip6_daemon::rng::DaemonRng;
use mip6_daemon::shell::{ControlOutcome, RecordsWanted};
use mip6_ha::{HomeAgent, MnConfig, MnRecord};
use mip6_wire::keys::GenerationId;
use mip6_wire::Time;
use serde_json::{json, Map, Value};

use crate::provision;
use crate::Aead;

/// What the commands act on: the engine, the served home addresses in their order,
/// which of them are provisioned, the home prefix.
pub struct Served<'a> {
    /// The engine.
    pub engine: &'a mut HomeAgent<DaemonRng, Aead>,
    /// Every served home address, file first, then provisioned in the order added.
    pub home_addresses: &'a mut Vec<Ipv6Addr>,
    /// The provisioned ones.
    pub provisioned: &'a mut BTreeSet<Ipv6Addr>,
    /// The home prefix.
    pub home_prefix: crate::config::Prefix,
}

/// The commands this module answers.
pub const COMMANDS: [&str; 5] = ["mn list", "mn show", "mn add", "mn import", "mn remove"];

/// The stored records `command` needs: an added node resumes from its record if it
/// has one. `mn add` names its nodes, so only theirs are read (one node added to a
/// store of a million reads one record); `mn import` reads the file in
/// [`Served::control`], so it takes them all, in one paged read.
pub fn records_wanted(
    command: &str,
    args: &Map<String, Value>,
    home_prefix: &crate::config::Prefix,
) -> RecordsWanted {
    match command {
        "mn add" => RecordsWanted::Keys(
            args.get("mobile_node")
                .and_then(Value::as_str)
                .and_then(|text| provision::parse_entries(text, home_prefix).ok())
                .unwrap_or_default()
                .iter()
                .map(|mn| crate::store::record_key(&mn.home_address))
                .collect(),
        ),
        "mn import" => RecordsWanted::All,
        _ => RecordsWanted::None,
    }
}

fn error(why: impl Into<String>) -> ControlOutcome {
    ControlOutcome {
        answer: json!({ "error": why.into() }),
        ..ControlOutcome::default()
    }
}

fn home_address_arg(args: &Map<String, Value>) -> Result<Ipv6Addr, String> {
    args.get("home_address")
        .and_then(Value::as_str)
        .ok_or("no \"home_address\" string")?
        .parse()
        .map_err(|e| format!("home_address: {e}"))
}

impl Served<'_> {
    /// Answers `command`, or `None` if it is not one of [`COMMANDS`].
    pub fn control(
        &mut self,
        now: Time,
        command: &str,
        args: &Map<String, Value>,
        stored: &[MnRecord],
    ) -> Option<ControlOutcome> {
        Some(match command {
            "mn list" => match Page::from_args(args) {
                Ok(page) => self.list(page),
                Err(why) => error(why),
            },
            "mn show" => match home_address_arg(args) {
                Ok(hoa) => self.show(&hoa),
                Err(why) => error(why),
            },
            "mn add" => match args.get("mobile_node").and_then(Value::as_str) {
                Some(text) => self.add(now, text, stored),
                None => error("no \"mobile_node\" string (one [[mobile_node]] table)"),
            },
            "mn import" => match args.get("path").and_then(Value::as_str) {
                Some(path) => match std::fs::read_to_string(path) {
                    Ok(text) => self.add(now, &text, stored),
                    Err(e) => error(format!("{path}: {e}")),
                },
                None => error("no \"path\" string"),
            },
            "mn remove" => match home_address_arg(args) {
                Ok(hoa) => self.remove(now, &hoa),
                Err(why) => error(why),
            },
            _ => return None,
        })
    }

    fn source(&self, hoa: &Ipv6Addr) -> &'static str {
        if self.provisioned.contains(hoa) {
            "provisioned"
        } else {
            "file"
        }
    }

    fn list(&self, page: Page) -> ControlOutcome {
        let total = self.home_addresses.len();
        let range = page.range(total);
        let nodes: Vec<Value> = self.home_addresses[range.clone()]
            .iter()
            .map(|hoa| {
                json!({
                    "home_address": hoa.to_string(),
                    "source": self.source(hoa),
                    "care_of_address": self.engine.binding(hoa).map(|b| b.care_of_address.to_string()),
                })
            })
            .collect();
        ControlOutcome {
            answer: json!({
                "mobile_nodes": {
                    "total": total,
                    "offset": range.start,
                    "listed": range.len(),
                    "next_offset": (range.end < total).then_some(range.end),
                },
                "nodes": nodes,
            }),
            ..ControlOutcome::default()
        }
    }

    fn show(&self, hoa: &Ipv6Addr) -> ControlOutcome {
        if !self.engine.serves(hoa) {
            return error(format!("{hoa} is not served"));
        }
        let binding = self.engine.binding(hoa).map(|b| {
            json!({
                "care_of_address": b.care_of_address.to_string(),
                "sequence": u16::from(b.sequence),
                "lifetime_s": b.lifetime_secs,
            })
        });
        let keys = self.engine.keys(hoa).map(|view| {
            let generations: Vec<Value> = view
                .generations
                .iter()
                .map(|g| {
                    json!({
                        "slot": g.slot.name(),
                        "generation": match g.id { GenerationId::Init => 0, GenerationId::Number(n) => n },
                        "spi_mn_to_ha": g.spis.mn_to_ha.get(),
                        "spi_ha_to_mn": g.spis.ha_to_mn.get(),
                    })
                })
                .collect();
            json!({ "transmit_spi": view.transmit_spi, "generations": generations })
        });
        ControlOutcome {
            answer: json!({
                "home_address": hoa.to_string(),
                "source": self.source(hoa),
                "binding": binding,
                "keys": keys,
            }),
            ..ControlOutcome::default()
        }
    }

    fn add(&mut self, now: Time, text: &str, stored: &[MnRecord]) -> ControlOutcome {
        let nodes = match provision::parse_entries(text, &self.home_prefix) {
            Ok(nodes) => nodes,
            Err(why) => return error(why),
        };
        if let Err(why) = self.check_new(&nodes) {
            return error(why);
        }
        let stored: HashMap<Ipv6Addr, &MnRecord> =
            stored.iter().map(|r| (r.home_address, r)).collect();
        let mut put = Vec::with_capacity(nodes.len());
        let mut added = Vec::with_capacity(nodes.len());
        for mn in nodes {
            let hoa = mn.home_address;
            let record = stored.get(&hoa).copied();
            let row = provision::encode_row(&mn);
            if let Err(e) = self.engine.add_mobile_node(now, mn, record) {
                // Checked above: only a node added earlier in this same call can
                // collide, which parse_entries refuses. Stop, keep what was added.
                tracing::error!(%hoa, error = %e, "mn add: refused after the checks");
                break;
            }
            self.home_addresses.push(hoa);
            self.provisioned.insert(hoa);
            put.push(row);
            added.push(hoa.to_string());
        }
        tracing::info!(
            added = added.len(),
            mobile_nodes = self.home_addresses.len(),
            "mobile nodes provisioned"
        );
        ControlOutcome {
            answer: json!({ "added": added, "mobile_nodes": self.home_addresses.len() }),
            put,
            remove: Vec::new(),
        }
    }

    /// Every node of `nodes` may be added: not served, init SPIs free.
    fn check_new(&self, nodes: &[MnConfig]) -> Result<(), String> {
        for mn in nodes {
            if self.engine.serves(&mn.home_address) {
                return Err(format!(
                    "{} is served already ({})",
                    mn.home_address,
                    self.source(&mn.home_address)
                ));
            }
            for spi in [mn.init_spis.mn_to_ha.get(), mn.init_spis.ha_to_mn.get()] {
                if self.engine.spi_in_use(spi) {
                    return Err(format!(
                        "{}: SPI {spi:#x} is in use by a served node",
                        mn.home_address
                    ));
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, now: Time, hoa: &Ipv6Addr) -> ControlOutcome {
        if !self.provisioned.contains(hoa) {
            return error(if self.engine.serves(hoa) {
                format!("{hoa} is in the configuration file: remove it there and send SIGHUP")
            } else {
                format!("{hoa} is not served")
            });
        }
        self.engine.remove_mobile_node(now, hoa);
        self.home_addresses.retain(|h| h != hoa);
        self.provisioned.remove(hoa);
        tracing::info!(home_address = %hoa, mobile_nodes = self.home_addresses.len(), "mobile node removed");
        ControlOutcome {
            answer: json!({ "removed": hoa.to_string(), "mobile_nodes": self.home_addresses.len() }),
            put: Vec::new(),
            remove: vec![provision::row_key(hoa)],
        }
    }
}
