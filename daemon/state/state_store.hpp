// anchord's memory: what it enrolled, which keyrings it sealed, and what it
// was about to do to the kernel when it last stopped. Kept as a versioned
// JSON snapshot, replaced atomically, and a journal of the changes since,
// appended to: each save is either wholly there or not at all after a crash
// or a full disk, never a mixture.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "anchord/error.hpp"
#include "anchord/types.hpp"

namespace anchord::state {

// How a certificate came to be enrolled.
enum class Origin { Api, Dropin, Sandbox };  // JSON "api", "drop-in", "sandbox"

std::string_view to_string(Origin origin) noexcept;
std::optional<Origin> parse_origin(std::string_view text) noexcept;

struct Record {
    Fingerprint fingerprint;  // always Fingerprint::of_der(der)
    LogicalKeyring keyring = LogicalKeyring::Ima;
    SharedBytes der;
    Origin origin = Origin::Api;
    std::string source;  // the drop-in file's path; "" for api. Stored as UTF-8:
                         // invalid bytes are saved as U+FFFD.
    std::chrono::sys_seconds enrolled_at{};
    std::uint32_t caller_uid = 0;
    bool operator==(const Record&) const = default;
};

// Write-ahead intents: how anchord stays consistent with the kernel when it
// is killed (SIGKILL, power loss) between touching a keyring and saving.
//
//   Link (enrolling):
//     1. add Intent{fp, keyring, Link, der} to `pending`, save();
//     2. link the key into the kernel keyring;
//     3. add the Record, remove the intent, save().
//   Unlink (removing):
//     1. add Intent{fp, keyring, Unlink, der} to `pending` (the Record stays),
//        save();
//     2. unlink the key from the kernel keyring;
//     3. remove the Record, remove the intent, save().
//
// At start, before anything else, each intent left in `pending` is settled:
//   Link   -> rolled back: the caller never got a success reply, so the
//             enrollment did not happen; unlink the key if the kernel has it
//             (unless a Record for the same fingerprint and keyring exists,
//             i.e. it was already enrolled before), then drop the intent.
//             No record names the certificate, so the intent carries its DER:
//             the kernel shows a key only by its description (subject and
//             key identifier), which is computed from the DER.
//   Unlink -> rolled forward: the caller asked for the removal; unlink the
//             key if still there, drop the Record, then drop the intent.
// Every key with the certificate's description is unlinked (a recorded
// certificate sharing it is linked again by the re-apply that follows); an
// intent whose key cannot be unlinked stays pending for the next start.
// Both are idempotent, so a crash during recovery is recovered the same way.
enum class IntentAction { Link, Unlink };  // JSON "link", "unlink"

std::string_view to_string(IntentAction action) noexcept;

struct Intent {
    Intent() = default;
    Intent(Fingerprint fp, LogicalKeyring k, IntentAction a, Bytes certificate = {})
        : fingerprint(fp), keyring(k), action(a), der(std::move(certificate)) {}

    Fingerprint fingerprint;
    LogicalKeyring keyring = LogicalKeyring::Ima;
    IntentAction action = IntentAction::Link;
    // The certificate (Fingerprint::of_der(der) == fingerprint), which
    // anchord writes into every intent since version 2. Empty in intents of
    // version 1: those only the certificates anchord knows can identify.
    SharedBytes der;
    bool operator==(const Intent&) const = default;
    // Same operation on the same certificate and keyring, whatever `der` says.
    bool same_operation(const Intent& other) const {
        return fingerprint == other.fingerprint && keyring == other.keyring &&
               action == other.action;
    }
};

// The state file's versions:
//   1  records, sealed, pending {fingerprint, keyring, action}
//   2  pending entries may carry "der" (base64, as in records), which
//      anchord writes for each intent.
//   3  "snapshot_id" names the snapshot; the journal (state.journal) holds
//      the changes made since, and counts only when its header names the
//      same snapshot.
// Older files load (version 1 intents without DER) and are written back in
// the current version.
struct State {
    static constexpr int kVersion = 3;
    static constexpr int kOldestReadableVersion = 1;

    int version = kVersion;
    std::vector<Record> records;      // at most one per (fingerprint, keyring)
    std::set<LogicalKeyring> sealed;  // keyrings anchord sealed
    std::vector<Intent> pending;

    const Record* find(const Fingerprint& fingerprint, LogicalKeyring keyring) const;
    // Removes the record; false when there was none.
    bool erase(const Fingerprint& fingerprint, LogicalKeyring keyring);

    // No duplicate (same_operation) is added; a duplicate without DER is
    // given the new intent's DER.
    void add_intent(const Intent& intent);
    // Clears the pending intent of the same operation; false when none was.
    bool clear_intent(const Intent& intent);

    bool operator==(const State&) const = default;
};

// A state file or journal larger than this is refused: it cannot be ours.
inline constexpr std::uintmax_t kMaxStateFileSize = 64ull * 1024 * 1024;

// A journal is written anew with the whole state once it would outgrow the
// snapshot, or this, whichever is larger: replaying it stays as cheap as
// reading the snapshot, and a save costs what changed, not the whole state.
inline constexpr std::uintmax_t kJournalFloor = 256 * 1024;

// dir/state.json, the snapshot, and dir/state.journal: one line per save
// after a header naming the snapshot it continues. Why a journal: a save
// happens twice per change (write-ahead, then the result), and rewriting a
// state of a thousand certificates (a megabyte and more) with its fsyncs
// cost more than the change itself.
class StateStore {
  public:
    explicit StateStore(std::filesystem::path dir);
    StateStore(StateStore&&) noexcept;
    StateStore& operator=(StateStore&&) noexcept;
    ~StateStore();

    // The snapshot, then every whole line of a journal that continues it. No
    // snapshot: an empty State. An older version is returned as the current
    // one. A last journal line cut short (a crash while appending; that save
    // never returned) is ignored, and so is a journal that continues another
    // snapshot (a crash while a new snapshot was written). Anything else
    // wrong throws Error(StateError) naming the file, where in it, and what
    // to do; the files themselves are never modified.
    State load();
    // Appends to the journal what changed since the last load() or save()
    // (one line, then fdatasync), or, when the journal would grow too big or
    // the files are not the ones this store last saw, writes the whole
    // state: a new snapshot (temp file, fsync, rename, fsync of the
    // directory), then a new journal, the same way. Creates the directory
    // (0700) when missing; the first save removes the temporary files an
    // interrupted one left there. On failure the files are as they were (a partly
    // appended line is cut off again) and Error(StateError) is thrown.
    void save(const State& state);

    const std::filesystem::path& dir() const { return dir_; }
    const std::filesystem::path& file() const { return file_; }
    const std::filesystem::path& journal_file() const { return journal_; }

  private:
    struct Disk;  // what the files hold, as this store last wrote or read them

    void save_whole(const State& state);
    bool append(std::string_view line);

    std::filesystem::path dir_;
    std::filesystem::path file_;
    std::filesystem::path journal_;
    std::unique_ptr<Disk> disk_;  // null: the next save writes the whole state
    bool swept_ = false;          // the temporaries of an earlier anchord are gone
};

}  // namespace anchord::state
