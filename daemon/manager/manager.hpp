// anchord's logic: one context object that owns the policy, the desired
// state and the keyrings, and decides every enrollment, removal, seal and
// drift report. The bus objects (service/) are thin translations of this
// API; the tests drive it directly too.
//
// Threading: every public method may be called from any thread. Changing
// operations are serialised by one mutex held for their whole length; the
// values that readers see (state, policy, drift, provisioning) are guarded
// by a second mutex held only for copies, so a long enrollment never blocks
// a property read. Listeners are told about changes after both mutexes are
// released: a listener may call back into the manager or into sd-bus.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "anchord/types.hpp"
#include "anchord/verdict.hpp"
#include "keyring/keyrings.hpp"
#include "state/state_store.hpp"

namespace anchord::manager {

// Bounds on what a caller may send (the bus delivers up to 128 MiB).
inline constexpr std::size_t kMaxFingerprintLength = 80;
inline constexpr std::size_t kMaxKeyringNameLength = 32;
inline constexpr std::size_t kMaxPolicyFileSize = 1024 * 1024;
inline constexpr std::size_t kMaxCertificateFileSize = ReadLimits{}.max_bytes;

// Who asked for a change, for the record and the journal.
struct Requester {
    std::uint32_t uid = 0;
    std::string bus_name;  // ":1.42"; "" for anchord itself
};

// The kernel's answer for one certificate: to a trial (Verify) or to the
// real link (Enroll).
struct KernelAnswer {
    bool accepted = false;
    std::string error_name;  // "ENOKEY", ...; "" when accepted or not asked
    std::string reason;
};

// One position of a bundle, as Verify and Enroll report it.
struct CertificateResult {
    std::uint32_t index = 0;
    std::optional<Fingerprint> fingerprint;  // nullopt when the bytes could not be read
    bool accepted = false;
    KeySerial serial;  // the key linked (Enroll), else 0
    std::vector<Check> checks;
    KernelAnswer kernel;
    std::optional<LogicalKeyring> belongs_in;
};

enum class DriftKind : std::uint8_t { Missing, Foreign, SealedBypass };
std::string_view to_string(DriftKind kind) noexcept;  // "missing", "foreign", "sealed-bypass"

struct DriftEntry {
    LogicalKeyring keyring{};
    std::string fingerprint;  // "sha256:HEX", or "" for a key whose certificate is unknown
    DriftKind kind = DriftKind::Missing;
    std::string detail;
    auto operator<=>(const DriftEntry&) const = default;
};

enum class ProvisionOutcome : std::uint8_t { Enrolled, AlreadyEnrolled, Refused };
// "enrolled", "already-enrolled", "refused"
std::string_view to_string(ProvisionOutcome outcome) noexcept;

struct ProvisionEntry {
    std::string path;
    std::string keyring;  // the folder's name, which may not be a keyring at all
    ProvisionOutcome outcome = ProvisionOutcome::Refused;
    std::string reason;
};

enum class KeyOrigin : std::uint8_t { Anchord, Builtin, Foreign };
std::string_view to_string(KeyOrigin origin) noexcept;  // "anchord", "builtin", "foreign"

struct KeyView {
    KeySerial serial;
    std::string description;
    std::optional<Fingerprint> fingerprint;  // nullopt when the certificate is unknown
    KeyOrigin origin = KeyOrigin::Foreign;
};

struct KeyringView {
    LogicalKeyring name{};
    std::string kernel_name;
    KeySerial serial;  // 0 when absent
    bool present = false;
    bool kernel_guarded = false;
    bool sealed = false;
    std::string role;  // "ca", "signing", "" when the policy does not name it
};

struct EnrollOptions {
    bool partial = false;  // enroll what passes, report the rest
    // An accepted certificate's result keeps only the checks that warned
    // or failed; a refused one keeps them all.
    bool brief = false;
};

struct PolicyText {
    std::string json;
    std::string digest;
};

// Told about every change, after the manager released its locks.
class Listener {
  public:
    virtual ~Listener() = default;
    virtual void key_enrolled(LogicalKeyring keyring, const Fingerprint& fingerprint,
                              KeySerial serial) = 0;
    virtual void key_removed(LogicalKeyring keyring, const Fingerprint& fingerprint) = 0;
    virtual void keyring_sealed(LogicalKeyring keyring, bool kernel_enforced) = 0;
    // The keys a keyring holds changed.
    virtual void keys_changed(LogicalKeyring keyring) = 0;
    // A new policy is active (PolicyDigest, and each keyring's Role).
    virtual void policy_changed() = 0;
    // Compliant, Drift or LastReconcile changed; `detected` is the new drift
    // when it differs from the last one and is not empty.
    virtual void drift_changed(const std::vector<DriftEntry>& drift, bool detected) = 0;
};

// Maps a logical keyring name sent by a caller; InvalidArgument quoting it
// (bounded, printable) when it is not one.
LogicalKeyring parse_keyring_argument(std::string_view name);
// A fingerprint sent by a caller; InvalidArgument when malformed.
Fingerprint parse_fingerprint_argument(std::string_view text);
// `text` made safe to quote in a message: at most `max` characters,
// non-printable bytes as \xNN.
std::string quote_argument(std::string_view text, std::size_t max = 64);

// Reads a policy file (bounded) and parses it; the error names the file.
Policy load_policy_file(const std::filesystem::path& file);

// Every *.der / *.pem file of `dir` (following symlinks to regular files),
// sorted by name. Throws Error(InvalidArgument) when `dir` is no folder.
std::vector<std::filesystem::path> certificate_files(const std::filesystem::path& dir);
// Reads a certificate file (bounded) into bytes; Error(InvalidArgument) on failure.
Bytes read_certificate_file(const std::filesystem::path& file);
// All certificates of every certificate file of `dir` (sandbox anchors).
std::vector<Certificate> load_anchor_folder(const std::filesystem::path& dir);

struct ManagerSetup {
    std::filesystem::path policy_file;
    Policy policy;
    keyring::Keyrings keyrings;
    KernelProfile kernel;
    state::StateStore store;
    state::State state;
    // The sandbox's anchors, in its builtin keyring; empty on the system.
    std::vector<Certificate> anchors;
};

class Manager {
  public:
    explicit Manager(ManagerSetup setup);
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;
    ~Manager();

    // Set before the manager is shared between threads, and cleared
    // (nullptr) only after they stopped: the listener is called without a
    // lock, so it must outlive every call that may reach it.
    void set_listener(Listener* listener);

    // --- start-up, in this order ------------------------------------------
    // Settles write-ahead intents, links every recorded certificate again
    // (the keyrings are empty after a reboot) and seals again what the state
    // says is sealed. Failures are logged and left as drift.
    void restore();
    // Enrolls the drop-in folder's certificates: dropin_dir/<keyring>/*.der|*.pem.
    // Idempotent; a refused file never blocks the others.
    std::vector<ProvisionEntry> provision(const std::filesystem::path& dropin_dir);

    // --- the bus API --------------------------------------------------------
    std::vector<CertificateResult> verify(ByteView bundle, std::string_view keyring) const;
    // `answer`, when given, gets the results as soon as the certificates are
    // linked and recorded, before the drift pass and the listener's
    // notifications that follow every change: the caller need not wait for
    // them. Readers of the drift meanwhile make that pass themselves.
    using Answer = std::function<void(const std::vector<CertificateResult>&)>;
    std::vector<CertificateResult> enroll(ByteView bundle, std::string_view keyring,
                                          const EnrollOptions& options, const Requester& requester,
                                          const Answer& answer = {});
    void remove(std::string_view fingerprint, std::string_view keyring, const Requester& requester);
    bool seal(std::string_view keyring, const Requester& requester);
    std::vector<DriftEntry> reconcile(const Requester& requester);
    // Reads the policy file again; on error the old policy stays and the
    // error (InvalidPolicy naming the file and field) is thrown.
    void reload_policy();
    PolicyText policy() const;

    // Computes drift again (the timer, and after every change).
    std::vector<DriftEntry> refresh_drift();

    // --- what the properties show -------------------------------------------
    bool sandbox() const;
    std::string policy_digest() const;
    bool compliant() const;
    std::uint64_t last_reconcile_usec() const;
    std::vector<DriftEntry> drift() const;
    std::vector<ProvisionEntry> provisioning() const;
    KeyringView keyring(LogicalKeyring keyring) const;
    // Shared: while the keyring holds the same keys under the same index,
    // every reader gets the same answer, made once.
    std::shared_ptr<const std::vector<KeyView>> keys(LogicalKeyring keyring) const;

  private:
    class Notes;
    struct Snapshot;  // a consistent copy of what readers see
    struct Index;     // what identifies kernel keys, built from one Snapshot

    Snapshot snapshot() const;
    // The Index of `view`, built once per generation of its state,
    // certificates and links, and shared by every reader of that generation.
    std::shared_ptr<const Index> index(const Snapshot& view) const;
    TrustSnapshot trust_snapshot(const Snapshot& view) const;
    // The certificate keys (not nested keyrings) a keyring holds; empty
    // when the keyring is absent.
    keyring::Listing certificate_keys(LogicalKeyring keyring) const;
    std::vector<CertificateResult> enroll_locked(ByteView bundle, LogicalKeyring keyring,
                                                 const EnrollOptions& options,
                                                 const Requester& requester, state::Origin origin,
                                                 const std::string& source, Notes& notes);
    void settle_intents_locked(Notes& notes);
    // Links the records of keyrings that hold no certificate yet (a boot)
    // from their DER alone, while the records are still being parsed.
    void prelink_locked(Notes& notes);
    void reapply_locked(Notes& notes);
    struct Link;
    // Links each record's DER again, in passes (a certificate whose voucher
    // comes later gets its turn in the next one); the records left, with
    // the kernel's last refusal.
    std::vector<std::pair<const state::Record*, std::string>> link_again_locked(
        const std::vector<const state::Record*>& records, std::vector<Link>& links, Notes& notes);
    std::vector<DriftEntry> refresh_drift_locked(Notes& notes);
    // While one lives, a change was answered and its drift pass is under
    // way: the first reader of the drift makes it ahead of the pass, for
    // the readers after it until the pass ends.
    class DriftPending;
    // The drift while a pass is pending; `generation`, drift_generation_ as
    // it was seen pending.
    std::vector<DriftEntry> drift_ahead(std::uint64_t generation) const;
    std::vector<DriftEntry> compute_drift(const Snapshot& view) const;
    // Saves `next` and makes it the state readers see; throws Error(StateError).
    // `parsed`: certificates the caller has read already, so that they are
    // not parsed again for the readers' view.
    void save_locked(state::State next, const std::vector<Certificate>& parsed = {});
    struct Link {
        LogicalKeyring keyring;
        Fingerprint fingerprint;
        KeySerial serial;
    };
    // All at once: the link map is copied for its readers on every change.
    void remember_links(const std::vector<Link>& links);
    void forget_links(LogicalKeyring keyring, const Fingerprint& fingerprint);
    void deliver(Notes& notes);

    // Fixed after construction. The kernel calls of Keyrings that change a
    // keyring are made under change_mutex_ only.
    keyring::Keyrings keyrings_;
    const KernelProfile kernel_;
    const std::filesystem::path policy_file_;
    const std::vector<Certificate> anchors_;
    std::set<Fingerprint> anchor_fingerprints_;
    state::StateStore store_;

    // Serialises the changing operations.
    mutable std::mutex change_mutex_;

    // Guards the values below, which are replaced whole (copy on write) so
    // that a reader's copy is cheap and consistent.
    mutable std::mutex data_mutex_;
    std::shared_ptr<const Policy> policy_;
    std::shared_ptr<const state::State> state_;
    // The records' certificates, parsed once. The parse of the state read at
    // start runs on a thread of its own while restore() links the keys;
    // snapshot() waits for it (once) before anything reads certificates_.
    mutable std::shared_ptr<const std::map<Fingerprint, Certificate>> certificates_;
    mutable std::future<std::shared_ptr<const std::map<Fingerprint, Certificate>>> first_parse_;
    mutable std::once_flag first_parse_done_;
    // The serials anchord linked in this run, per keyring and certificate.
    std::shared_ptr<const std::map<std::pair<LogicalKeyring, Fingerprint>, std::set<KeySerial>>>
        linked_;
    // The last Index built; rebuilt when the values it was built from change.
    mutable std::mutex index_mutex_;
    mutable std::shared_ptr<const Index> index_;
    // The last answer of keys() per keyring, and what it was made from: the
    // index and the keyring's serials. A compliance agent polls Keys; with a
    // thousand keys, identifying each again was a third of every read.
    struct KeysAnswer {
        std::shared_ptr<const Index> index;
        std::vector<KeySerial> serials;  // every key the answer was made from
        std::shared_ptr<const std::vector<KeyView>> keys;
    };
    mutable std::mutex keys_mutex_;
    mutable std::map<LogicalKeyring, KeysAnswer> keys_answers_;
    // For each sealed keyring: does the kernel enforce the seal?
    std::map<LogicalKeyring, bool> seal_kernel_;
    std::vector<DriftEntry> drift_;
    bool drift_pending_ = false;
    // Moves when a change opens a drift window and when a pass ends.
    std::uint64_t drift_generation_ = 0;
    std::chrono::system_clock::time_point last_reconcile_{};
    // What a reader found in window `generation`, and when:
    // Drift, Compliant and LastReconcile agree in that window, and the
    // readers after the first take its result instead of making their own.
    struct DriftAhead {
        std::uint64_t generation = 0;
        std::vector<DriftEntry> drift;
        std::chrono::system_clock::time_point at{};
    };
    mutable std::optional<DriftAhead> drift_ahead_;
    std::vector<ProvisionEntry> provisioning_;

    std::atomic<Listener*> listener_{nullptr};
};

}  // namespace anchord::manager
