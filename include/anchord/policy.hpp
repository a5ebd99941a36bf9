// The policy file: chain-of-trust rules for each logical keyring.
// Part of the policy library: parses text, opens no file.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/types.hpp"

namespace anchord {

enum class KeyringRole : std::uint8_t { Ca, Signing };
std::string_view to_string(KeyringRole r) noexcept;  // "ca", "signing"

// Mirrors the kernel's CA enforcement of .machine (CONFIG_INTEGRITY_CA_MACHINE_KEYRING
// and its _MAX variant).
enum class CaEnforcement : std::uint8_t { None, Ca, CaMax };
std::string_view to_string(CaEnforcement c) noexcept;  // "none", "ca", "ca-max"

// How anchord asks the kernel to guard a keyring that userspace made (_ima,
// the sandbox's): a restriction for keyctl restrict_keyring, or none.
enum class KernelRestriction : std::uint8_t { None, BuiltinTrusted, BuiltinAndSecondaryTrusted };
// "none", "builtin_trusted", "builtin_and_secondary_trusted": the policy file's
// spelling, which is also the kernel's restriction type name.
std::string_view to_string(KernelRestriction r) noexcept;

struct AlgorithmRule {
    KeyAlgorithm algorithm = KeyAlgorithm::Unknown;
    int min_bits = 0;                 // RSA/DSA modulus, EC field size
    std::vector<std::string> curves;  // for ECDSA: allowed curves; empty = any

    bool operator==(const AlgorithmRule&) const = default;
};

struct KeyringPolicy {
    LogicalKeyring name = LogicalKeyring::Builtin;
    std::string kernel_keyring;  // ".ima", "_ima", ".secondary_trusted_keys", ...
    KeyringRole role = KeyringRole::Signing;
    bool enrollable = true;  // false: anchord never links into it (builtin, platform)
    std::vector<LogicalKeyring> trusted_by;   // keyrings whose keys may vouch for an enrollee
    std::vector<Fingerprint> pinned_issuers;  // issuers that may vouch, by fingerprint
    CaEnforcement ca_enforcement = CaEnforcement::None;
    bool allow_ca = false;             // a signing keyring accepts CA certificates
    bool allow_leaf = false;           // a ca keyring accepts leaf certificates
    std::uint16_t required_usage = 0;  // key_usage bits
    std::uint16_t forbidden_usage = 0;
    std::vector<AlgorithmRule> algorithms;  // empty = any
    std::vector<HashAlgorithm> hashes;      // allowed signature hashes
    bool enforce_validity = true;
    std::chrono::seconds clock_skew{300};
    int max_chain_depth = 4;  // certificates between enrollee and anchor, inclusive of the anchor
    KernelRestriction create_restriction = KernelRestriction::None;  // for keyrings anchord creates

    bool operator==(const KeyringPolicy&) const = default;
};

struct Denylist {
    std::set<Fingerprint> fingerprints;
    std::set<Sha256> tbs_hashes;

    bool operator==(const Denylist&) const = default;
};

struct Policy {
    int version = 1;
    std::map<LogicalKeyring, KeyringPolicy> keyrings;
    Denylist deny;
    std::string digest;  // "sha256:HEX" of the policy text it was parsed from

    const KeyringPolicy* find(LogicalKeyring k) const {
        auto it = keyrings.find(k);
        return it == keyrings.end() ? nullptr : &it->second;
    }
};

// Parses and validates a policy file's text. Throws Error(InvalidPolicy, ...)
// whose message starts with the JSON pointer of the offending field
// ("/keyrings/ima/role: ...").
Policy parse_policy(std::string_view json_text);

// The default policy's text (the file shipped as /etc/anchord/policy.json).
std::string_view default_policy_text() noexcept;

// The policy as JSON again (for `anchorctl policy`).
std::string policy_to_json(const Policy& policy);

}  // namespace anchord
