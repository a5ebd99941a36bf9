// The keyrings anchord works on: the system's (found in /proc/keys, or
// created for _ima/_evm on kernels without CONFIG_INTEGRITY_TRUSTED_KEYRING)
// or a sandbox topology that the kernel guards the same way, and what the
// kernel is (its profile), measured from /proc and its configuration.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "anchord/types.hpp"
#include "anchord/verdict.hpp"
#include "keyring/keyring.hpp"

namespace anchord::keyring {

// The kernel's build configuration ("CONFIG_X=y" lines).
struct KernelConfig {
    std::map<std::string, std::string, std::less<>> options;  // "CONFIG_X" -> "y", "m", "\"...\""
    std::string source;  // "/proc/config.gz", "/boot/config-6.1.0-18-amd64"

    bool enabled(std::string_view option) const;  // "y" or "m"
};
KernelConfig parse_kernel_config(std::string_view text);
// /proc/config.gz, else /boot/config-$(uname -r); nullopt when neither is readable.
std::optional<KernelConfig> read_kernel_config();

// The signature schemes /proc/crypto shows a verifier for (entries of type
// "sig" or "akcipher": rsa, pkcs1(rsa,...), ecdsa-nist-p256, sm2, ...).
// Key agreement entries (ecdh-*) do not count.
std::set<KeyAlgorithm> parse_proc_crypto(std::string_view text);
// The digests /proc/crypto shows a synchronous hash ("shash") for, among
// those the kernel's X.509 parser names for a signature: SHA-1, SHA-2, SHA-3
// and SM3. MD5 never counts: the parser refuses MD5 signatures (ENOPKG,
// measured) though the kernel has an md5 digest.
std::set<HashAlgorithm> parse_proc_crypto_hashes(std::string_view text);

// Everything detect_kernel_profile reads, so the rules can be tested on
// other kernels' texts.
struct KernelFacts {
    std::string release;                 // uname -r
    std::optional<KernelConfig> config;  // nullopt: unreadable
    std::string proc_crypto;
    bool ima_keyring_present = false;  // /proc/keys names .ima
};
KernelProfile kernel_profile_from(const KernelFacts& facts);
// The running kernel: version from uname; integrity_trusted_keyring and CA
// enforcement from its configuration when readable (else .ima's presence
// says integrity_trusted_keyring, CA enforcement is taken as off);
// digsig_rule = integrity_trusted_keyring && version >= 6.4; verifiable
// from /proc/crypto, plus verifiers the configuration builds as modules
// (the kernel loads those on first use); hashes likewise.
KernelProfile detect_kernel_profile();

// Sandbox keyring names: "anchord:sandbox" (the top, linked into the
// caller's session keyring), "anchord:builtin", "anchord:secondary",
// "anchord:machine", "anchord:platform",
// "anchord:ima", "anchord:evm", "anchord:blacklist". Scratch keyrings for
// trials are "anchord:trial", made in the process keyring.
inline constexpr std::string_view kSandboxPrefix = "anchord:";

class Keyrings {
  public:
    // The system's keyrings, mapped through the policy's kernel_keyring
    // names. "."-names are the kernel's: found by name in /proc/keys (owner
    // root), absent when not there. Other names ("_ima", "_evm") are
    // userspace keyrings IMA finds through the user keyring, as dracut's
    // integrity module and evmctl make them (`keyctl newring _ima @u`):
    // searched from @u and, when `create_missing` is set and none exists,
    // created in @u with the kernel .ima's permissions (user may view, read,
    // write, search) plus setattr, and restricted per
    // KeyringPolicy::create_restriction. An existing one is restricted the
    // same way when `create_missing` is set; if the kernel answers that it
    // already carries a restriction (EEXIST), the rule is taken to be
    // create_restriction (Restriction::assumed); if it refuses us (EACCES: a
    // keyring someone else keeps to themselves), it is left as found and its
    // restriction is Unknown.
    // Throws KernelError when a keyring cannot be created or restricted.
    static Keyrings system(const Policy& policy, bool create_missing);

    // A sandbox under a fresh keyring "anchord:sandbox" linked into the
    // caller's session keyring, destroyed with this object:
    //   builtin   holds `anchors`, then sealed (links refused: EPERM)
    //   machine   holds `machine`, then sealed (as .machine refuses userspace)
    //   platform  holds `platform`, then sealed
    //   secondary links builtin and machine as nested keyrings; restricted
    //             to keys signed by a key reachable from itself:
    //             key_or_keyring:<builtin>:chain (the kernel refuses a
    //             restriction naming the keyring itself, EDEADLK; ":chain"
    //             searches it, and so what it nests, and makes no cycle
    //             that would keep the sandbox alive after its session).
    //   ima, evm  key_or_keyring:<secondary>: signed by a key in secondary,
    //             builtin or machine (the kernel searches nested keyrings),
    //             not by a key in ima itself, as the kernel's .ima with
    //             IMA_KEYRINGS_PERMIT_SIGNED_BY_BUILTIN_OR_SECONDARY.
    //   blacklist a plain keyring of "user" keys "tbs:HEX"/"bin:HEX" (payload:
    //             the 32 hash bytes): userspace cannot make "blacklist" keys
    //             outside .blacklist, and the kernel does not enforce these;
    //             they feed blacklist_tbs()/blacklist_bin() for the policy.
    // Throws KernelError (naming the anchor's position) when the kernel
    // refuses a certificate.
    static Keyrings sandbox(const std::vector<Certificate>& anchors,
                            const std::vector<Certificate>& machine = {},
                            const std::vector<Certificate>& platform = {});

    // The sandbox an anchord killed before it could destroy it (SIGKILL)
    // left in the caller's session keyring, taken over with the keys it
    // holds, so that a restarted anchord finds its keyrings as it would find
    // the system's: "anchord:sandbox" linked in the session keyring, every
    // keyring of the topology inside it, and builtin holding exactly the
    // certificates of `anchors` (by kernel description). The restrictions are
    // the ones sandbox() sets (the kernel does not show them). nullopt when
    // there is no such sandbox; destroyed with this object like a new one.
    static std::optional<Keyrings> adopt_sandbox(const std::vector<Certificate>& anchors);

    Keyrings(Keyrings&&) noexcept;
    Keyrings& operator=(Keyrings&&) noexcept;
    ~Keyrings();

    bool is_sandbox() const noexcept { return sandbox_; }
    const KeyringLocation& location(LogicalKeyring k) const;
    const std::map<LogicalKeyring, KeyringLocation>& locations() const noexcept {
        return locations_;
    }

    // What the keyring holds, in the kernel's order. Keys that vanish while
    // being listed are left out; a key the caller may not describe is listed
    // with its serial and an empty type. Throws NotFound for an absent
    // keyring, KernelError when it cannot be read. An asymmetric key listed
    // before is not described again (its type, description and SKID cannot
    // change): its permissions, uid and gid are the ones first seen, and a
    // revoked one shows until the kernel unlinks it.
    std::vector<KeyEntry> list(LogicalKeyring k) const;
    std::vector<KeyEntry> list_serial(KeySerial ring) const;
    // The serials the keyring holds, in the kernel's order: one read, no key
    // described. Throws as list() does.
    std::vector<KeySerial> serials(LogicalKeyring k) const;
    // list(), shared: while the keyring holds the same keys, each of them an
    // asymmetric key, every listing is the same object, not a copy.
    Listing listing(LogicalKeyring k) const;
    // listing() of what serials() just read, without reading the keyring again.
    Listing listing(LogicalKeyring k, const std::vector<KeySerial>& serials) const;

    // add_key("asymmetric", NULL, der) into it. Throws KernelError with
    // code Sealed for a sealed keyring: errno EPERM when sealed by a
    // restriction, EACCES when sealed by its permissions (see seal()).
    AddResult add(LogicalKeyring k, ByteView der);
    // As add, for a caller that listed the keyring's certificate keys when
    // its change began: whether the add replaced a key is told from
    // `descriptions`, which then holds the linked key's too.
    AddResult add(LogicalKeyring k, ByteView der, Descriptions& descriptions);
    // Throws KernelError, NotFound when the key is not linked there, Sealed
    // (EACCES) when the keyring is sealed by its permissions.
    void unlink(LogicalKeyring k, KeySerial key);
    // keyctl_restrict_keyring(ring, NULL, NULL): the kernel then refuses
    // every further link (EPERM). A keyring that already carries a
    // restriction answers EEXIST (the kernel keeps one per keyring): it is
    // sealed by its permissions instead, every write and setattr bit taken
    // away, so the kernel refuses every link (EACCES, root included), any
    // unlink, and any change of its permissions; view, read and search stay.
    // Returns true: the kernel enforces the seal (also when the keyring is
    // sealed already, either way). A keyring the kernel made answers
    // EACCES even to root: KernelError(AccessDenied), and the daemon keeps
    // its own seal; so does any keyring whose setattr we lack.
    bool seal(LogicalKeyring k);

    // The kernel's verdict on linking `der` into `k`, without touching `k`:
    // the certificate is added to a scratch keyring carrying the same
    // restriction (or the same seal: EPERM), made in the process keyring and
    // destroyed whatever happens. A keyring sealed by its permissions
    // answers EACCES without a trial.
    // For a keyring the kernel made that the caller may not write (its
    // permissions say so), the verdict is EACCES. Throws NotFound for an
    // absent keyring.
    TrialResult trial(LogicalKeyring k, ByteView der) const;

    // The kernel's .blacklist entries ("tbs:HEX", "bin:HEX"), or the
    // sandbox's; empty when the keyring is absent or unreadable.
    std::set<Sha256> blacklist_tbs() const;
    std::set<Sha256> blacklist_bin() const;
    std::optional<KeySerial> blacklist_keyring() const noexcept { return blacklist_; }
    // Sandbox only: records a hash in anchord:blacklist ("tbs" or "bin").
    // Throws AccessDenied on the system keyrings (the kernel's .blacklist
    // takes only PKCS#7-signed entries) and InvalidArgument for another kind.
    KeySerial add_blacklist_entry(std::string_view kind, const Sha256& hash);

  private:
    Keyrings() = default;
    const KeyringLocation& present(LogicalKeyring k) const;  // throws NotFound
    AddResult link_certificate(LogicalKeyring k, ByteView der, Descriptions* descriptions);
    std::set<Sha256> blacklist_entries(std::string_view prefix) const;
    // The entries of `serials`, read from `ring`: the listing's one body.
    Listing describe(KeySerial ring, const std::vector<KeySerial>& serials) const;

    bool sandbox_ = false;
    std::map<LogicalKeyring, KeyringLocation> locations_;
    std::optional<KeySerial> blacklist_;
    KernelProfile profile_;
    // Sandbox keyrings, children first so they go before the top.
    std::vector<OwnedKeyring> owned_;
    // Each keyring's last listing: the next costs one read of the keyring
    // plus a describe for each new key, not N describes and a whole
    // /proc/keys (measured on a loaded 2-core machine: about 6 ms each for
    // 1,000 keys), and no copy at all when the keys are the same. Null once
    // moved from.
    struct ListCache {
        struct Ring {
            std::vector<KeySerial> serials;  // what `last` was read from
            Listing last;
            // Where each asymmetric key of `last` sits in it: its type,
            // description and SKID cannot change, so it is not described again.
            std::unordered_map<std::int32_t, std::size_t> known;
            // Linked by add() since, described then.
            std::unordered_map<std::int32_t, KeyEntry> added;
            bool every_key_known = false;  // then the same serials give `last` again
        };
        std::mutex mutex;
        std::map<std::int32_t, Ring> rings;
    };
    std::unique_ptr<ListCache> list_cache_ = std::make_unique<ListCache>();
};

}  // namespace anchord::keyring
