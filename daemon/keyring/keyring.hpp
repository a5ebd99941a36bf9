// anchord's hands on the kernel's keyrings (libkeyutils). The same code
// addresses the system keyrings or a sandbox topology built under a private
// keyring; which one is chosen by configuration.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "anchord/error.hpp"
#include "anchord/types.hpp"
#include "anchord/verdict.hpp"

namespace anchord::keyring {

// A failed keyctl call: the errno, its symbolic name and a message that
// tells a person what happened and what to do. For a link (add_key of a
// certificate), code() is KernelRejected for the kernel's verdicts on the
// certificate (ENOKEY, EKEYREJECTED, EBADMSG, ENOPKG, ENOENT, EINVAL,
// EDQUOT, EOPNOTSUPP); Sealed for EPERM (measured: a keyring restricted with
// no rule answers EPERM, and nothing else does for a link); AccessDenied for
// EACCES (the keyring's permissions refuse the caller: .builtin_trusted_keys,
// .machine, .platform; Keyrings::add turns it into Sealed when the keyring's
// permissions let nobody write, a seal by permissions); NotFound when the keyring is revoked or
// gone. For other calls: NotFound for a missing key or keyring, AccessDenied for EACCES/EPERM,
// InvalidArgument for EINVAL. Internal for anything else.
class KernelError : public Error {
  public:
    KernelError(ErrorCode code, int err, const std::string& message)
        : Error(code, message), errno_(err) {}
    int error_number() const noexcept { return errno_; }

  private:
    int errno_;
};

std::string errno_name(int err);  // "ENOKEY", ...; "errno 123" when unknown
// The person-readable meaning of an errno from add_key/keyctl_link.
std::string explain_errno(int err);

// What the failed call was doing: a link's errno is the kernel's verdict on
// a certificate, another call's errno is about the key or keyring named.
enum class KernelCall : std::uint8_t {
    Link,   // add_key/keyctl_link of a certificate into a keyring
    Other,  // describe, read, unlink, search, restrict, setperm
};

// Builds the KernelError for `err` from an operation described by `context`
// ("linking sha256:... into .ima").
KernelError kernel_error(int err, const std::string& context, KernelCall call = KernelCall::Link);

struct KeyEntry {
    KeySerial serial;
    std::string type;  // "asymmetric", "keyring", "blacklist", ...
    std::string description;
    std::uint32_t permissions = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    // For asymmetric X.509 keys: the subject key identifier the description
    // ends with. The kernel ends the description with the SKID, or with the
    // serial number when the certificate has none; /proc/keys tells the two
    // apart (it prints the SKID's last 4 bytes only when there is one), so
    // this is nullopt for a certificate without SKID.
    std::optional<Bytes> subject_key_id;
    bool is_keyring() const { return type == "keyring"; }
};

// A keyring's keys as one listing read them, shared among its readers and
// never changed. Iterable itself, so that a range-for over a listing a
// function returns keeps it alive (one over *shared_ptr would not).
class Listing {
  public:
    Listing() : keys_(none()) {}
    explicit Listing(std::vector<KeyEntry> keys)
        : keys_(std::make_shared<const std::vector<KeyEntry>>(std::move(keys))) {}

    const std::vector<KeyEntry>& keys() const noexcept { return *keys_; }
    std::vector<KeyEntry>::const_iterator begin() const noexcept { return keys_->begin(); }
    std::vector<KeyEntry>::const_iterator end() const noexcept { return keys_->end(); }
    std::size_t size() const noexcept { return keys_->size(); }
    bool empty() const noexcept { return keys_->empty(); }
    const KeyEntry& operator[](std::size_t i) const { return (*keys_)[i]; }
    // The very same listing, not only the same keys.
    bool same_as(const Listing& other) const noexcept { return keys_ == other.keys_; }

  private:
    static const std::shared_ptr<const std::vector<KeyEntry>>& none() {
        static const auto empty = std::make_shared<const std::vector<KeyEntry>>();
        return empty;
    }
    std::shared_ptr<const std::vector<KeyEntry>> keys_;
};

// The descriptions of the certificate keys a keyring holds: those a listing
// read as a change began (under the change's lock), and those
// Keyrings::add linked through it since. From them add() tells whether a
// link replaced a key of the same description; without them it reads the
// keyring before and after each link (two reads of every serial per key:
// 7% of anchord's CPU at a boot's re-apply of 1,000 records).
class Descriptions {
  public:
    explicit Descriptions(Listing present) : present_(std::move(present)) {
        views_.reserve(present_.size());
        for (const auto& key : present_) views_.insert(key.description);
    }
    Descriptions(const Descriptions&) = delete;
    Descriptions& operator=(const Descriptions&) = delete;

    bool contains(std::string_view description) const { return views_.contains(description); }
    void add(const std::string& description) {
        if (!description.empty() && !contains(description))
            views_.insert(added_.emplace_back(description));
    }

  private:
    Listing present_;                // owns the listed descriptions the views point into
    std::deque<std::string> added_;  // owns the linked ones (a deque: they never move)
    std::unordered_set<std::string_view> views_;
};

struct AddResult {
    KeySerial serial;
    // The keyring already held a key with the same kernel description
    // (subject name and SKID, so the same public key under the same name).
    // Measured: add_key of such a certificate makes a new key (a new serial)
    // and the kernel replaces the old key's link with it, so the keyring
    // still holds one key for it; `serial` is the new one.
    bool already_present = false;
    // The kernel's description of the new key ("" when it cannot be read).
    std::string description;
};

// The kernel's answer to a trial link.
struct TrialResult {
    bool accepted = false;
    int error_number = 0;    // 0 when accepted
    std::string error_name;  // "ENOKEY", ... ; empty when accepted
    std::string reason;
    // Which parts of the verdict were measured on a scratch keyring and
    // which predicted from the policy (rules userspace cannot set).
    std::vector<std::string> measured;
    std::vector<std::string> predicted;
    // The kernel's parser and blacklist took the certificate, so only the
    // keyring's rules decide. A kernel rule in `predicted` (restrict_link_by_
    // digsig, restrict_link_by_ca) runs before the signature check: where it
    // fails, the kernel's answer is ENOKEY whatever the scratch keyring said.
    bool parsed = false;
};

// How the kernel guards links into a keyring. The kernel shows this nowhere
// (/proc/keys and describe give name, owner and permissions only): it is
// known because anchord set it, or taken from the kernel's configuration.
struct Restriction {
    enum class Kind : std::uint8_t {
        None,                        // any parseable key may be linked
        Sealed,                      // keyctl_restrict_keyring(ring, NULL, NULL): no link at all
        BuiltinTrusted,              // "builtin_trusted"
        BuiltinAndSecondaryTrusted,  // "builtin_and_secondary_trusted"
        KeyOrKeyring,                // "key_or_keyring:<key>[:chain]": signed by a key
                                     // reachable from <key> (or, with chain, from the
                                     // keyring itself)
        Unknown,                     // restricted by something anchord cannot name
    };
    Restriction() = default;
    Restriction(Kind k, std::optional<KeySerial> keyring = std::nullopt, bool is_assumed = false)
        : kind(k), key(keyring), assumed(is_assumed) {}

    Kind kind = Kind::Unknown;
    std::optional<KeySerial> key;  // for KeyOrKeyring
    bool chain = false;            // for KeyOrKeyring: ":chain"
    // The rule was not set by anchord in this run: it is the kernel's
    // configuration read from its config, or a guess (see Keyrings::system).
    bool assumed = false;

    // "none", "sealed", "builtin_trusted", "key_or_keyring:123[:chain]", "unknown"
    std::string to_string() const;
};

// One logical keyring as found on this machine.
struct KeyringLocation {
    LogicalKeyring name{};
    std::string kernel_name;          // ".ima", "_ima", "anchord:ima", ...; "" when unmapped
    std::optional<KeySerial> serial;  // nullopt: absent on this kernel
    bool kernel_restricted = false;   // the kernel checks links (false for a bare _ima/_evm)
    bool userspace_made = false;      // anchord may restrict/seal it
    Restriction restriction;          // what the kernel checks on a link
};

// Owns one keyring anchord created: on destruction, unless released,
// clears it, unlinks it from its parent and invalidates it, so the kernel
// collects it (and what only it held) at once and nothing is left behind.
// Give the keyring the user search and write permissions, so this works
// even once the caller no longer possesses it.
class OwnedKeyring {
  public:
    OwnedKeyring() = default;
    OwnedKeyring(KeySerial keyring, KeySerial parent) : keyring_(keyring), parent_(parent) {}
    OwnedKeyring(const OwnedKeyring&) = delete;
    OwnedKeyring& operator=(const OwnedKeyring&) = delete;
    OwnedKeyring(OwnedKeyring&& other) noexcept;
    OwnedKeyring& operator=(OwnedKeyring&& other) noexcept;
    ~OwnedKeyring() { reset(); }

    KeySerial get() const noexcept { return keyring_; }
    explicit operator bool() const noexcept { return keyring_.value != 0; }
    KeySerial release() noexcept;  // keep the keyring; the guard forgets it
    void reset() noexcept;         // unlink and invalidate now

  private:
    KeySerial keyring_;
    KeySerial parent_;
};

// Makes an enrollment transactional: unlinks `key` from `ring` on
// destruction unless committed.
class LinkGuard {
  public:
    LinkGuard() = default;
    LinkGuard(KeySerial key, KeySerial ring) : key_(key), ring_(ring) {}
    LinkGuard(const LinkGuard&) = delete;
    LinkGuard& operator=(const LinkGuard&) = delete;
    LinkGuard(LinkGuard&& other) noexcept;
    LinkGuard& operator=(LinkGuard&& other) noexcept;
    ~LinkGuard() { rollback(); }

    KeySerial key() const noexcept { return key_; }
    void commit() noexcept { key_ = {}; }
    void rollback() noexcept;  // unlink now (errors ignored: the key may be gone)

  private:
    KeySerial key_;
    KeySerial ring_;
};

// ... Keyrings, discovery and the kernel profile are in keyrings.hpp.

}  // namespace anchord::keyring
