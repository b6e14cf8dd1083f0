-- mip6-keys.lua: Wireshark dissector for mip6's key-management options.
--
-- These ride in the Mobility Header's Vendor-Specific Mobility Option (type 19,
-- RFC 5094) with vendor id 32473 (RFC 5612's documentation number; change it
-- under Preferences > Protocols > MIP6KEYS for a site that owns a number).
-- Wireshark's MIPv6 dissector (packet-mip6.c) decodes the vendor id itself
-- (mip6.vsm.vendorId) and hands the rest of the option, from the sub-type octet
-- on, to the dissector registered for that vendor id in the "mip6.vsm" table.
--
-- Layouts (all integers network order; see docs/architecture.md):
--   sub-type 1 Key Initialization Request: 8-octet NTP timestamp nonce
--   sub-type 2 Key Update Request:          no body
--   sub-type 3 Key Resending Request:       no body
--   sub-type 4 Key Distribution: generation u32, SPI MN->HA u32, SPI HA->MN u32,
--              suite u8 (1 AES-128-GCM, 2 AES-256-GCM), reserved 3,
--              lifetime seconds u32, secret 32 octets
--
-- Use:  tshark -X lua_script:wireshark/mip6-keys.lua -r capture.pcapng
--       wireshark -X lua_script:wireshark/mip6-keys.lua capture.pcapng
-- or copy it into ~/.local/lib/wireshark/plugins/.

local DEFAULT_VENDOR_ID = 32473

local p = Proto("mip6keys", "mip6 Key-Management Option")

local subtypes = {
    [1] = "Key Initialization Request",
    [2] = "Key Update Request",
    [3] = "Key Resending Request",
    [4] = "Key Distribution",
}
local suites = { [1] = "AES-128-GCM", [2] = "AES-256-GCM" }

local f = {
    subtype    = ProtoField.uint8("mip6keys.subtype", "Sub-type", base.DEC, subtypes),
    nonce      = ProtoField.uint64("mip6keys.nonce", "Timestamp nonce", base.HEX),
    nonce_time = ProtoField.absolute_time("mip6keys.nonce_time", "Timestamp nonce (NTP)", base.UTC),
    generation = ProtoField.uint32("mip6keys.generation", "Generation", base.DEC),
    spi_mn2ha  = ProtoField.uint32("mip6keys.spi_mn2ha", "SPI MN->HA", base.HEX),
    spi_ha2mn  = ProtoField.uint32("mip6keys.spi_ha2mn", "SPI HA->MN", base.HEX),
    suite      = ProtoField.uint8("mip6keys.suite", "Suite", base.DEC, suites),
    reserved   = ProtoField.bytes("mip6keys.reserved", "Reserved"),
    lifetime   = ProtoField.uint32("mip6keys.lifetime", "Lifetime (seconds)", base.DEC),
    secret     = ProtoField.bytes("mip6keys.secret", "Secret"),
    extra      = ProtoField.bytes("mip6keys.extra", "Unexpected trailing data"),
}
p.fields = f

local ef_short = ProtoExpert.new("mip6keys.short", "Option too short for its sub-type",
    expert.group.MALFORMED, expert.severity.ERROR)
local ef_extra = ProtoExpert.new("mip6keys.extra_data", "Octets after the sub-type's body",
    expert.group.PROTOCOL, expert.severity.WARN)
local ef_unknown = ProtoExpert.new("mip6keys.unknown_subtype", "Unknown sub-type",
    expert.group.UNDECODED, expert.severity.NOTE)
p.experts = { ef_short, ef_extra, ef_unknown }

p.prefs.vendor_id = Pref.uint("Vendor ID", DEFAULT_VENDOR_ID,
    "Enterprise number in the Vendor-Specific Mobility Option that carries mip6 key options")

-- Body length after the sub-type octet.
local body_len = { [1] = 8, [2] = 0, [3] = 0, [4] = 52 }

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len < 1 then
        return 0
    end
    local subtype = tvb(0, 1):uint()
    local name = subtypes[subtype] or string.format("Unknown sub-type %d", subtype)
    local t = tree:add(p, tvb(), "mip6 key option: " .. name)
    t:add(f.subtype, tvb(0, 1))
    pinfo.cols.info:append(" [" .. name .. "]")

    local need = body_len[subtype]
    if need == nil then
        t:add_proto_expert_info(ef_unknown)
        return len
    end
    if len < 1 + need then
        t:add_proto_expert_info(ef_short, string.format("%s needs %d octets after the sub-type, %d present",
            name, need, len - 1))
        return len
    end
    if subtype == 1 then
        t:add(f.nonce, tvb(1, 8))
        t:add_packet_field(f.nonce_time, tvb(1, 8), ENC_TIME_NTP + ENC_BIG_ENDIAN)
    elseif subtype == 4 then
        t:add(f.generation, tvb(1, 4))
        t:add(f.spi_mn2ha, tvb(5, 4))
        t:add(f.spi_ha2mn, tvb(9, 4))
        t:add(f.suite, tvb(13, 1))
        t:add(f.reserved, tvb(14, 3))
        t:add(f.lifetime, tvb(17, 4))
        t:add(f.secret, tvb(21, 32))
        t:append_text(string.format(", generation %d", tvb(1, 4):uint()))
    end
    if len > 1 + need then
        t:add(f.extra, tvb(1 + need))
        t:add_proto_expert_info(ef_extra)
    end
    return len
end

local registered = nil

local function register()
    local table = DissectorTable.get("mip6.vsm")
    if registered ~= nil then
        table:remove(registered, p)
    end
    registered = p.prefs.vendor_id
    table:add(registered, p)
end

function p.prefs_changed()
    if registered ~= p.prefs.vendor_id then
        register()
    end
end

register()
