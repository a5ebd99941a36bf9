// Evaluating a certificate against the policy for one target keyring, with
// every check explained. Part of the policy library: the daemon hands in a
// snapshot of what the keyrings hold and what the kernel is.
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
#include "anchord/policy.hpp"
#include "anchord/types.hpp"

namespace anchord {

enum class Outcome : std::uint8_t { Pass, Fail, Warn, Skip };
std::string_view to_string(Outcome o) noexcept;  // "pass", "fail", "warn", "skip"

struct Check {
    std::string id;  // stable: "chain.issuer-found", "kernel.digsig", ...
    Outcome outcome = Outcome::Skip;
    std::string reason;  // one line for a person
};

struct Verdict {
    bool accepted = false;
    std::vector<Check> checks;  // in the order they ran
    // Where the kernel would route the certificate instead (a MOK refused
    // by .machine's CA enforcement goes to platform).
    std::optional<LogicalKeyring> belongs_in;
    // The chain found, enrollee first, anchor last. When no anchor was
    // reached it is the walk that explains why (accepted is then false).
    std::vector<Fingerprint> chain;
    // Set when the chain ends at a kernel key whose certificate cannot be
    // read back (an OpaqueKey): it has no fingerprint, so `chain` ends at
    // the certificate it vouches for.
    std::optional<KeySerial> opaque_anchor;

    // The check with this id, or null when it did not run.
    const Check* find(std::string_view id) const {
        for (const auto& c : checks) {
            if (c.id == id) return &c;
        }
        return nullptr;
    }
};

// What the kernel is: its version and the configuration that decides the
// rules userspace cannot reproduce on a scratch keyring. Filled by the
// daemon from what the kernel exposes; never assumed.
struct KernelProfile {
    int major = 0;
    int minor = 0;
    bool integrity_trusted_keyring = false;  // .ima/.evm exist and are kernel-restricted
    bool digsig_rule = false;                // 6.4+: restrict_link_by_digsig on .ima/.evm
    bool ca_machine_keyring = false;         // CONFIG_INTEGRITY_CA_MACHINE_KEYRING
    bool ca_machine_keyring_max = false;     // ..._MAX
    // Signature schemes the kernel can verify ("rsa", "ecdsa", ...); empty = unknown.
    std::set<KeyAlgorithm> verifiable;
    // Digests the kernel can compute for a certificate's signature ("sha256",
    // "sha3-384", ...); empty = unknown.
    std::set<HashAlgorithm> hashes;
};

// A key the kernel holds whose certificate cannot be read back: only its
// key identifiers are known, so it can vouch by identifier alone.
struct OpaqueKey {
    KeySerial serial;
    std::string description;
    std::optional<Bytes> subject_key_id;
};

struct TrustSnapshot {
    std::map<LogicalKeyring, std::vector<Certificate>> certificates;
    std::map<LogicalKeyring, std::vector<OpaqueKey>> opaque_keys;
    // The kernel's .blacklist: "tbs:" and "bin:" SHA-256 hashes.
    std::set<Sha256> kernel_blacklist_tbs;
    std::set<Sha256> kernel_blacklist_bin;
    // Keyrings that are guarded by nothing in the kernel (_ima/_evm on a
    // kernel without INTEGRITY_TRUSTED_KEYRING): the verdict says so.
    std::set<LogicalKeyring> unguarded;
    // Certificates that may be links of a chain but are never anchors (the
    // rest of a bundle being enrolled). Certificates of keyrings the target
    // does not trust serve the same way.
    std::vector<Certificate> intermediates;
};

Verdict evaluate(const Certificate& certificate, LogicalKeyring target, const Policy& policy,
                 const TrustSnapshot& snapshot, const KernelProfile& kernel,
                 std::chrono::system_clock::time_point now);

}  // namespace anchord
