// What anchord answers, as the client's own value types, and their JSON
// form. The conversions from the bus types and to JSON live here and only
// here, so `--json` output and the schema page (docs/anchorctl-json.md) have
// one place to agree with.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "anchord/sdbus.hpp"
#include "anchord/verdict.hpp"

namespace anchorctl {

// Fields in the order the schema page lists them, so a person reading the
// JSON finds "index" before "checks".
using Json = nlohmann::ordered_json;

// The D-Bus shapes of io.github.anchord1.xml, spelled once.
using DbusCheck = sdbus::Struct<std::string, std::string, std::string>;
using DbusKernelAnswer = sdbus::Struct<bool, std::string, std::string>;
using DbusCertificateResult = sdbus::Struct<std::uint32_t, std::string, bool, std::int32_t,
                                            std::vector<DbusCheck>, DbusKernelAnswer, std::string>;
using DbusQuad = sdbus::Struct<std::string, std::string, std::string, std::string>;
using DbusKey = sdbus::Struct<std::int32_t, std::string, std::string, std::string>;

struct CheckResult {
    std::string id;
    anchord::Outcome outcome = anchord::Outcome::Skip;
    std::string reason;
};

struct KernelAnswer {
    bool accepted = false;
    std::optional<std::string> error;  // "ENOKEY", ...; nullopt when accepted
    std::string reason;
};

// One certificate of a Verify or Enroll call.
struct CertificateResult {
    std::uint32_t index = 0;                 // position across every FILE given, from 0
    std::optional<std::string> file;         // the FILE it came from, when known
    std::optional<std::string> fingerprint;  // "sha256:HEX"; nullopt when unreadable
    bool accepted = false;
    std::optional<std::int32_t> serial;  // the key serial it was linked as
    std::vector<CheckResult> checks;     // in the order they ran
    KernelAnswer kernel;
    std::optional<std::string> belongs_in;  // "platform", ...
};

struct KeyEntry {
    std::int32_t serial = 0;
    std::string description;
    std::optional<std::string> fingerprint;
    std::string origin;  // "anchord", "builtin", "foreign"
};

struct KeyringInfo {
    std::string name;  // logical: "ima", ...
    std::string kernel_name;
    std::int32_t serial = 0;
    bool present = false;
    bool sealed = false;
    bool guarded = false;  // KernelGuarded
    std::string role;
    std::vector<KeyEntry> keys;
};

struct DriftEntry {
    std::string keyring;
    std::string fingerprint;
    std::string kind;  // "missing", "foreign", "sealed-bypass"
    std::string detail;
};

struct ProvisioningEntry {
    std::string path;
    std::string keyring;
    std::string outcome;  // "enrolled", "already-enrolled", "refused"
    std::string reason;
};

struct ManagerInfo {
    std::string version;
    std::string mode;
    std::string policy_digest;
    bool compliant = false;
    std::uint64_t last_reconcile_usec = 0;  // 0: never
    std::vector<DriftEntry> drift;
    std::vector<ProvisioningEntry> provisioning;
};

struct PolicyInfo {
    std::string policy_json;
    std::string digest;
};

// Outcomes by their wire names; nullopt for a name the API does not define.
std::optional<anchord::Outcome> parse_outcome(std::string_view name) noexcept;
std::string_view outcome_name(anchord::Outcome outcome) noexcept;

// From the bus. Throw anchorctl::Failure (bad reply) when anchord sends
// something the API does not allow.
CertificateResult from_dbus(const DbusCertificateResult& result);
std::vector<DriftEntry> drift_from_dbus(const std::vector<DbusQuad>& entries);
std::vector<ProvisioningEntry> provisioning_from_dbus(const std::vector<DbusQuad>& entries);
std::vector<KeyEntry> keys_from_dbus(const std::vector<DbusKey>& keys);

// "2026-11-01T12:00:00Z"; nullopt for 0 (never).
std::optional<std::string> format_timestamp_usec(std::uint64_t usec);

// The JSON forms named in docs/anchorctl-json.md.
Json to_json(const CertificateResult& result);
Json to_json(const KeyEntry& key);
// With the keys, or with only their count (for status).
Json to_json(const KeyringInfo& keyring, bool with_keys);
Json to_json(const DriftEntry& entry);
Json to_json(const ProvisioningEntry& entry);
Json to_json(const ManagerInfo& manager);

}  // namespace anchorctl
