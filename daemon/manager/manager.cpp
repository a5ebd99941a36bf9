#include "manager/manager.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <span>
#include <thread>
#include <unordered_set>
#include <utility>

#include "journal/journal.hpp"
#include "manager/batch.hpp"

namespace anchord::manager {
namespace {

namespace fs = std::filesystem;

using CertificateMap = std::map<Fingerprint, Certificate>;
using LinkMap = std::map<std::pair<LogicalKeyring, Fingerprint>, std::set<KeySerial>>;

// Vouchers before those they vouch for: an intermediate in secondary must be
// linked before the leaf in ima that it signed.
constexpr std::array<LogicalKeyring, 6> kApplyOrder{
    LogicalKeyring::Builtin,   LogicalKeyring::Machine, LogicalKeyring::Platform,
    LogicalKeyring::Secondary, LogicalKeyring::Ima,     LogicalKeyring::Evm};

// Whether a second thread can run beside this one. Asked once: glibc reads
// /sys for it at every call (some 30 us, on every Enroll).
bool two_cpus() {
    static const bool two = std::thread::hardware_concurrency() >= 2;
    return two;
}

// body(0) ... body(count - 1) in two halves, the second on a thread of its
// own: for a batch's verdicts, and for decoding drop-in bundles, which
// otherwise leave the second core idle.
void on_two_threads(std::size_t count, const std::function<void(std::size_t)>& body) {
    constexpr std::size_t kWorthAThread = 16;
    if (count < kWorthAThread || !two_cpus()) {
        for (std::size_t i = 0; i < count; ++i) body(i);
        return;
    }
    const std::size_t half = count / 2;
    // Should the first half throw, the future's destructor waits for the
    // second before `body` goes away.
    auto second = std::async(std::launch::async, [&] {
        for (std::size_t i = half; i < count; ++i) body(i);
    });
    for (std::size_t i = 0; i < half; ++i) body(i);
    second.get();
}

std::string keyring_list() {
    std::string out;
    for (auto k : kAllLogicalKeyrings) {
        if (!out.empty()) out += ", ";
        out += to_string(k);
    }
    return out;
}

journal::Fields fields(std::optional<LogicalKeyring> keyring,
                       std::optional<Fingerprint> fingerprint = std::nullopt,
                       std::optional<std::uint32_t> caller_uid = std::nullopt,
                       std::string verdict = "") {
    journal::Fields f;
    f.keyring = keyring;
    f.fingerprint = std::move(fingerprint);
    f.caller_uid = caller_uid;
    f.verdict = std::move(verdict);
    return f;
}

std::string name_of(LogicalKeyring k) {
    return std::string(to_string(k));
}

// "certificate #2 (sha256:AB..)": positions are 1-based for people.
std::string describe_position(std::size_t index, const std::optional<Fingerprint>& fp) {
    std::string out = "certificate #" + std::to_string(index + 1);
    if (fp) out += " (" + fp->to_string() + ")";
    return out;
}

// Enroll's "brief": an accepted certificate's result keeps the checks that
// warned or failed. The explanation of a success is some 36 checks, 4.7 KB
// a certificate on the bus: a 470 KB answer to a 100-certificate call, which
// sd-bus writes, dbus-daemon checks and the caller reads before it can send
// the next one (bench/README.md).
// Returns the checks left out, for the caller to free once it has answered.
std::vector<std::vector<Check>> keep_notable_checks(std::vector<CertificateResult>& results) {
    std::vector<std::vector<Check>> left_out;
    left_out.reserve(results.size());
    for (auto& r : results) {
        if (!r.accepted) continue;
        std::vector<Check> notable;
        for (auto& c : r.checks) {
            if (c.outcome != Outcome::Pass && c.outcome != Outcome::Skip)
                notable.push_back(std::move(c));
        }
        left_out.push_back(std::exchange(r.checks, std::move(notable)));
    }
    return left_out;
}

// A file descriptor that closes itself.
class Fd {
  public:
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

// Reads a regular file (after symlinks) of at most `max` bytes. O_NONBLOCK so
// that a FIFO planted in a folder cannot hang the daemon before fstat says
// what it is.
std::string read_bounded(const fs::path& file, std::size_t max, ErrorCode code) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
        int err = errno;
        throw Error(code, "cannot open " + file.string() + ": " + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        int err = errno;
        throw Error(code, "cannot read " + file.string() + ": " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) throw Error(code, file.string() + " is not a regular file");
    if (static_cast<std::uintmax_t>(st.st_size) > max) {
        throw Error(code, file.string() + " is too large (" + std::to_string(st.st_size) +
                              " bytes, at most " + std::to_string(max) + ")");
    }
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            throw Error(code, "cannot read " + file.string() + ": " + std::strerror(err));
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        // The file may grow between fstat and read.
        if (out.size() > max) {
            throw Error(code, file.string() + " is too large (more than " + std::to_string(max) +
                                  " bytes)");
        }
    }
    return out;
}

bool is_certificate_file_name(const fs::path& p) {
    auto ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".der" || ext == ".pem";
}

std::optional<Bytes> skid_from_description(std::string_view description) {
    // The kernel ends an X.509 key's description with ": <SKID hex>".
    auto pos = description.rfind(": ");
    if (pos == std::string_view::npos) return std::nullopt;
    auto hex = description.substr(pos + 2);
    if (hex.empty()) return std::nullopt;
    return from_hex(hex);
}

bool is_certificate_key(const keyring::KeyEntry& key) {
    return !key.is_keyring() && key.type == "asymmetric";
}

std::string failed_checks(const std::vector<Check>& checks) {
    std::string ids;
    std::string reasons;
    for (const auto& check : checks) {
        if (check.outcome != Outcome::Fail) continue;
        if (!ids.empty()) {
            ids += ", ";
            reasons += "; ";
        }
        ids += check.id;
        reasons += check.id + ": " + check.reason;
    }
    if (ids.empty()) return "no check passed it";
    return "failed " + ids + " (" + reasons + ")";
}

std::uint64_t usec_since_epoch(std::chrono::system_clock::time_point t) {
    if (t == std::chrono::system_clock::time_point{}) return 0;
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

}  // namespace

// ---------------------------------------------------------------------------
// Names and arguments

std::string_view to_string(DriftKind kind) noexcept {
    switch (kind) {
        case DriftKind::Missing:
            return "missing";
        case DriftKind::Foreign:
            return "foreign";
        case DriftKind::SealedBypass:
            return "sealed-bypass";
    }
    return "missing";
}

std::string_view to_string(ProvisionOutcome outcome) noexcept {
    switch (outcome) {
        case ProvisionOutcome::Enrolled:
            return "enrolled";
        case ProvisionOutcome::AlreadyEnrolled:
            return "already-enrolled";
        case ProvisionOutcome::Refused:
            return "refused";
    }
    return "refused";
}

std::string_view to_string(KeyOrigin origin) noexcept {
    switch (origin) {
        case KeyOrigin::Anchord:
            return "anchord";
        case KeyOrigin::Builtin:
            return "builtin";
        case KeyOrigin::Foreign:
            return "foreign";
    }
    return "foreign";
}

std::string quote_argument(std::string_view text, std::size_t max) {
    std::string out;
    std::size_t shown = 0;
    for (unsigned char c : text) {
        if (shown == max) {
            out += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out.push_back(static_cast<char>(c));
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
        ++shown;
    }
    return "'" + out + "'";
}

LogicalKeyring parse_keyring_argument(std::string_view name) {
    if (name.size() > kMaxKeyringNameLength) {
        throw Error(ErrorCode::InvalidArgument,
                    "keyring name " + quote_argument(name, kMaxKeyringNameLength) +
                        " is too long (" + std::to_string(name.size()) + " bytes, at most " +
                        std::to_string(kMaxKeyringNameLength) + ")");
    }
    auto k = parse_logical_keyring(name);
    if (!k) {
        throw Error(ErrorCode::InvalidArgument, "unknown keyring " + quote_argument(name) +
                                                    ": expected one of " + keyring_list());
    }
    return *k;
}

Fingerprint parse_fingerprint_argument(std::string_view text) {
    if (text.size() > kMaxFingerprintLength) {
        throw Error(ErrorCode::InvalidArgument,
                    "fingerprint " + quote_argument(text, kMaxFingerprintLength) +
                        " is too long (" + std::to_string(text.size()) + " bytes, at most " +
                        std::to_string(kMaxFingerprintLength) + ")");
    }
    auto fp = Fingerprint::parse(text);
    if (!fp) {
        throw Error(ErrorCode::InvalidArgument,
                    "not a fingerprint: " + quote_argument(text) +
                        " (expected \"sha256:\" and 64 hexadecimal digits)");
    }
    return *fp;
}

Policy load_policy_file(const fs::path& file) {
    std::string text;
    try {
        text = read_bounded(file, kMaxPolicyFileSize, ErrorCode::InvalidPolicy);
    } catch (const Error& e) {
        throw Error(ErrorCode::InvalidPolicy, std::string("policy: ") + e.what());
    }
    try {
        return parse_policy(text);
    } catch (const Error& e) {
        throw Error(ErrorCode::InvalidPolicy, file.string() + ": " + e.what());
    }
}

std::vector<fs::path> certificate_files(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw Error(ErrorCode::InvalidArgument, dir.string() + " is not a folder");
    }
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    if (ec)
        throw Error(ErrorCode::InvalidArgument,
                    "cannot list " + dir.string() + ": " + ec.message());
    for (const auto& entry : it) {
        if (is_certificate_file_name(entry.path())) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

Bytes read_certificate_file(const fs::path& file) {
    auto text = read_bounded(file, kMaxCertificateFileSize, ErrorCode::InvalidArgument);
    return Bytes(text.begin(), text.end());
}

std::vector<Certificate> load_anchor_folder(const fs::path& dir) {
    std::vector<Certificate> anchors;
    for (const auto& file : certificate_files(dir)) {
        auto bytes = read_certificate_file(file);
        try {
            for (auto& cert : read_certificates(bytes)) anchors.push_back(std::move(cert));
        } catch (const Error& e) {
            throw Error(e.code(), file.string() + ": " + e.what());
        }
    }
    if (anchors.empty()) {
        throw Error(ErrorCode::InvalidArgument,
                    "no anchor certificate (*.der, *.pem) in " + dir.string());
    }
    return anchors;
}

// ---------------------------------------------------------------------------
// What a reader sees, copied at once so it is consistent.

struct Manager::Snapshot {
    std::shared_ptr<const Policy> policy;
    std::shared_ptr<const state::State> state;
    std::shared_ptr<const CertificateMap> certificates;  // of the records
    std::shared_ptr<const LinkMap> linked;
    std::map<LogicalKeyring, bool> seal_kernel;
};

// Listener calls gathered while locks are held, delivered after.
class Manager::Notes {
  public:
    void add(std::function<void(Listener&)> f) { items_.push_back(std::move(f)); }
    std::vector<std::function<void(Listener&)>> take() { return std::exchange(items_, {}); }
    // What a change is done with but need not free before its caller has
    // the answer (a hundred decoded certificates take half a millisecond
    // to free): the notes outlive the answer and free it with them.
    template <typename T>
    void free_later(T&& leftovers) {
        leftovers_.push_back(std::make_shared<std::decay_t<T>>(std::forward<T>(leftovers)));
    }

  private:
    std::vector<std::function<void(Listener&)>> items_;
    std::vector<std::shared_ptr<const void>> leftovers_;
};

namespace {

using FingerprintSet = std::unordered_set<Fingerprint>;

// Finds which certificate a kernel key is: by the serial anchord linked it
// as, else by the kernel's description of it.
class KeyIdentifier {
  public:
    KeyIdentifier(const CertificateMap& records, const std::vector<Certificate>& anchors,
                  const LinkMap& linked) {
        by_description_.reserve(records.size() + anchors.size());
        for (const auto& [fp, cert] : records)
            by_description_.emplace_back(cert.info().kernel_description, fp);
        for (const auto& cert : anchors) {
            by_description_.emplace_back(cert.info().kernel_description, cert.info().fingerprint);
        }
        // Stable: certificates sharing a description stay in the order above.
        std::stable_sort(by_description_.begin(), by_description_.end(), by_first);
        // Indexed by serial once, so that identifying every key of a keyring
        // of thousands costs n log n, not n squared. When two certificates
        // claim one serial (a duplicate description), the first in
        // fingerprint order keeps it: the first of its equals after the
        // stable sort.
        for (const auto& [at, serials] : linked) {
            for (auto serial : serials)
                by_serial_.emplace_back(std::pair{at.first, serial}, at.second);
        }
        std::stable_sort(by_serial_.begin(), by_serial_.end(), by_first);
    }

    // `preferred`: when several certificates share a description (same
    // name and key), the one recorded in this keyring wins.
    std::optional<Fingerprint> identify(LogicalKeyring keyring, const keyring::KeyEntry& key,
                                        const FingerprintSet& preferred) const {
        if (const auto* fp = serial_of(keyring, key.serial)) return *fp;
        auto [lo, hi] = described(key.description);
        std::optional<Fingerprint> any;
        for (auto it = lo; it != hi; ++it) {
            if (preferred.contains(it->second)) return it->second;
            if (!any) any = it->second;
        }
        return any;
    }

    // For each certificate, the first of `keys` that identify() would give
    // it if it were preferred too: what a lookup of one fingerprint finds,
    // for all of them in one pass.
    std::map<Fingerprint, KeySerial> locate(LogicalKeyring keyring,
                                            const std::vector<keyring::KeyEntry>& keys,
                                            const FingerprintSet& preferred) const {
        std::map<Fingerprint, KeySerial> out;
        for (const auto& key : keys) {
            if (const auto* fp = serial_of(keyring, key.serial)) {
                out.emplace(*fp, key.serial);
                continue;
            }
            // A certificate further on in the range is chosen only when no
            // earlier one is preferred.
            auto [lo, hi] = described(key.description);
            for (auto it = lo; it != hi; ++it) {
                out.emplace(it->second, key.serial);
                if (preferred.contains(it->second)) break;
            }
        }
        return out;
    }

  private:
    using SerialEntry = std::pair<std::pair<LogicalKeyring, KeySerial>, Fingerprint>;
    using DescriptionEntry = std::pair<std::string_view, Fingerprint>;
    using Descriptions = std::vector<DescriptionEntry>;
    static constexpr auto by_first = [](const auto& a, const auto& b) { return a.first < b.first; };

    const Fingerprint* serial_of(LogicalKeyring keyring, KeySerial serial) const {
        const std::pair key{keyring, serial};
        auto it = std::lower_bound(by_serial_.begin(), by_serial_.end(), key,
                                   [](const SerialEntry& e, const auto& k) { return e.first < k; });
        return it != by_serial_.end() && it->first == key ? &it->second : nullptr;
    }
    std::pair<Descriptions::const_iterator, Descriptions::const_iterator> described(
        std::string_view description) const {
        struct Less {
            bool operator()(const DescriptionEntry& e, std::string_view d) const {
                return e.first < d;
            }
            bool operator()(std::string_view d, const DescriptionEntry& e) const {
                return d < e.first;
            }
        };
        return std::equal_range(by_description_.begin(), by_description_.end(), description,
                                Less{});
    }

    // Sorted vectors, not tree maps: an Index is built for every change of
    // the state, and the trees' thousands of nodes (allocated, then freed
    // with the Index before) were a tenth of a single enrollment's CPU at a
    // thousand records.
    std::vector<SerialEntry> by_serial_;
    // Views into the certificates' descriptions: the Index that holds this
    // identifier holds the record map, and the anchors live as long as the
    // manager. Copying a thousand descriptions was most of building it.
    Descriptions by_description_;
};

}  // namespace

// A keyring of a thousand keys is read many times per second by compliance
// agents: building the identifier for each read cost more than listing the
// keyring itself.
struct Manager::Index {
    std::shared_ptr<const state::State> state;
    std::shared_ptr<const CertificateMap> certificates;
    std::shared_ptr<const LinkMap> linked;
    KeyIdentifier identifier;
    std::map<LogicalKeyring, FingerprintSet> recorded;

    Index(const Snapshot& view, const std::vector<Certificate>& anchors)
        : state(view.state),
          certificates(view.certificates),
          linked(view.linked),
          identifier(*view.certificates, anchors, *view.linked) {
        for (const auto& r : view.state->records) recorded[r.keyring].insert(r.fingerprint);
    }
    bool built_from(const Snapshot& view) const {
        return state == view.state && certificates == view.certificates && linked == view.linked;
    }
    const FingerprintSet& recorded_in(LogicalKeyring k) const {
        static const FingerprintSet none;
        auto it = recorded.find(k);
        return it == recorded.end() ? none : it->second;
    }
};

namespace {

// A recorded certificate as the record map keeps it. The OpenSSL object is
// over half of a certificate's memory (3.7 of some 6 KiB for a leaf, even
// without its key loaded) and a verdict only uses an issuer's (its key
// checks the signatures of what it issued, its names chain them): a leaf
// keeps its DER and inspected values, and decodes the object again in the
// rare verdict that asks for it.
Certificate as_recorded(const Certificate& c) {
    const auto& info = c.info();
    const bool issuer =
        info.is_ca || (info.key_usage && (*info.key_usage & key_usage::key_cert_sign) != 0);
    return issuer ? c : c.without_x509();
}

// True when `state`'s records begin with `before`'s, in order: what an
// enrollment or a write-ahead save leaves.
bool only_added(const state::State& state, const state::State& before) {
    if (state.records.size() < before.records.size()) return false;
    return std::equal(before.records.begin(), before.records.end(), state.records.begin(),
                      [](const state::Record& a, const state::Record& b) {
                          return a.keyring == b.keyring && a.fingerprint == b.fingerprint;
                      });
}

// The record map of `state`. `previous`, the map of `before`, lends the
// certificates it already holds; `parsed` are those of new records.
std::shared_ptr<const CertificateMap> parse_records(const state::State& state,
                                                    const CertificateMap* previous,
                                                    const state::State* before = nullptr,
                                                    const std::vector<Certificate>& parsed = {}) {
    // Records only added: the previous map copied whole (no comparison per
    // node), then the new records. Rebuilding it by inserting every record
    // was an eighth of a one-file enrollment's CPU at 1,000 records.
    const bool copied = previous && before && only_added(state, *before);
    auto map =
        copied ? std::make_shared<CertificateMap>(*previous) : std::make_shared<CertificateMap>();
    const std::size_t first_new = copied ? before->records.size() : 0;
    std::map<Fingerprint, const Certificate*> fresh;
    for (const auto& c : parsed) fresh.emplace(c.info().fingerprint, &c);
    std::vector<const state::Record*> todo;
    std::set<Fingerprint> queued;
    for (const auto& r : std::span(state.records).subspan(first_new)) {
        if (map->contains(r.fingerprint) || !queued.insert(r.fingerprint).second) continue;
        if (previous && !copied) {
            if (auto it = previous->find(r.fingerprint); it != previous->end()) {
                map->emplace(r.fingerprint, it->second);
                continue;
            }
        }
        if (auto it = fresh.find(r.fingerprint); it != fresh.end()) {
            map->emplace(r.fingerprint, as_recorded(*it->second));
            continue;
        }
        todo.push_back(&r);
    }

    std::vector<std::optional<Certificate>> certs(todo.size());
    std::vector<std::string> errors(todo.size());
    for (std::size_t i = 0; i < todo.size(); ++i) {
        try {
            // At once, so that a boot never holds every leaf's object.
            certs[i] = as_recorded(parse_shared_der_certificate(todo[i]->der));
        } catch (const Error& e) {
            errors[i] = e.what();
        }
    }
    for (std::size_t i = 0; i < todo.size(); ++i) {
        const auto& r = *todo[i];
        if (certs[i]) {
            map->emplace(r.fingerprint, std::move(*certs[i]));
        } else {
            journal::log(
                LOG_ERR,
                "a recorded certificate cannot be read and will not be applied: " + errors[i],
                fields(r.keyring, r.fingerprint));
        }
    }
    return map;
}

}  // namespace

// ---------------------------------------------------------------------------
// Construction

Manager::Manager(ManagerSetup setup)
    : keyrings_(std::move(setup.keyrings)),
      kernel_(std::move(setup.kernel)),
      policy_file_(std::move(setup.policy_file)),
      anchors_(std::move(setup.anchors)),
      store_(std::move(setup.store)),
      policy_(std::make_shared<const Policy>(std::move(setup.policy))),
      state_(std::make_shared<const state::State>(std::move(setup.state))),
      linked_(std::make_shared<const LinkMap>()) {
    for (const auto& a : anchors_) anchor_fingerprints_.insert(a.info().fingerprint);
    // OpenSSL 3.0 takes about as long to parse a certificate as the kernel
    // takes to link it: at boot both run at once, on two cores.
    first_parse_ =
        std::async(std::launch::async, [state = state_] { return parse_records(*state, nullptr); });
}

Manager::~Manager() = default;

void Manager::set_listener(Listener* listener) {
    listener_.store(listener);
}

void Manager::deliver(Notes& notes) {
    auto items = notes.take();
    if (items.empty()) return;
    // No lock is held here: the listener talks to sd-bus, whose own lock the
    // bus thread may hold while it waits for the manager.
    Listener* listener = listener_.load();
    if (!listener) return;
    for (auto& f : items) {
        try {
            f(*listener);
        } catch (const std::exception& e) {
            // A signal that cannot be sent must not undo a change made.
            journal::log(LOG_WARNING,
                         std::string("cannot announce a change on the bus: ") + e.what());
        }
    }
}

Manager::Snapshot Manager::snapshot() const {
    std::call_once(first_parse_done_, [this] {
        auto certs = first_parse_.get();
        std::lock_guard lock(data_mutex_);
        certificates_ = std::move(certs);
    });
    std::lock_guard lock(data_mutex_);
    return Snapshot{policy_, state_, certificates_, linked_, seal_kernel_};
}

std::shared_ptr<const Manager::Index> Manager::index(const Snapshot& view) const {
    std::lock_guard lock(index_mutex_);
    if (!index_ || !index_->built_from(view))
        index_ = std::make_shared<const Index>(view, anchors_);
    return index_;
}

void Manager::save_locked(state::State next, const std::vector<Certificate>& parsed) {
    store_.save(next);  // throws Error(StateError)
    const auto view = snapshot();
    // The same records (a batch's write-ahead intents, a seal): the same
    // certificates, shared. Copying the map of 1,000 records showed in the
    // profile of a batch's intent saves.
    auto certs = next.records.size() == view.state->records.size() && only_added(next, *view.state)
                     ? view.certificates
                     : parse_records(next, view.certificates.get(), view.state.get(), parsed);
    // Moved, not copied: at a thousand records each copy of the state is a
    // megabyte of certificates, and an enrollment saves twice.
    auto saved = std::make_shared<const state::State>(std::move(next));
    std::lock_guard lock(data_mutex_);
    state_ = std::move(saved);
    certificates_ = std::move(certs);
}

void Manager::remember_links(const std::vector<Link>& links) {
    if (links.empty()) return;
    std::lock_guard lock(data_mutex_);
    auto next = std::make_shared<LinkMap>(*linked_);
    for (const auto& l : links) (*next)[{l.keyring, l.fingerprint}].insert(l.serial);
    linked_ = std::move(next);
}

void Manager::forget_links(LogicalKeyring keyring, const Fingerprint& fingerprint) {
    std::lock_guard lock(data_mutex_);
    auto next = std::make_shared<LinkMap>(*linked_);
    next->erase({keyring, fingerprint});
    linked_ = std::move(next);
}

// ---------------------------------------------------------------------------
// Views of the kernel

keyring::Listing Manager::certificate_keys(LogicalKeyring keyring) const {
    const auto& location = keyrings_.location(keyring);
    if (!location.serial) return {};
    auto listed = keyrings_.listing(keyring);
    // The common case, a keyring of certificates only, is shared as listed:
    // copying a thousand entries for each look showed in every change's profile.
    if (std::all_of(listed.begin(), listed.end(), is_certificate_key)) return listed;
    std::vector<keyring::KeyEntry> keys;
    std::copy_if(listed.begin(), listed.end(), std::back_inserter(keys), is_certificate_key);
    return keyring::Listing(std::move(keys));
}

TrustSnapshot Manager::trust_snapshot(const Snapshot& view) const {
    TrustSnapshot trust;
    for (const auto& r : view.state->records) {
        if (auto it = view.certificates->find(r.fingerprint); it != view.certificates->end()) {
            trust.certificates[r.keyring].push_back(it->second);
        }
    }
    for (const auto& a : anchors_) trust.certificates[LogicalKeyring::Builtin].push_back(a);

    const auto index = this->index(view);
    for (const auto& [k, location] : keyrings_.locations()) {
        if (!location.serial) continue;
        if (!location.kernel_restricted) trust.unguarded.insert(k);
        keyring::Listing keys;
        try {
            keys = certificate_keys(k);
        } catch (const Error& e) {
            journal::log(LOG_WARNING, std::string("cannot list a keyring: ") + e.what(), fields(k));
            continue;
        }
        const auto& recorded = index->recorded_in(k);
        for (const auto& key : keys) {
            auto fp = index->identifier.identify(k, key, recorded);
            if (fp) {
                bool listed = recorded.contains(*fp) ||
                              (k == LogicalKeyring::Builtin && anchor_fingerprints_.contains(*fp));
                if (listed) continue;
                // A certificate anchord knows, linked elsewhere too.
                auto cert = view.certificates->find(*fp);
                if (cert != view.certificates->end()) {
                    trust.certificates[k].push_back(cert->second);
                    continue;
                }
                auto anchor =
                    std::find_if(anchors_.begin(), anchors_.end(),
                                 [&](const Certificate& c) { return c.info().fingerprint == *fp; });
                if (anchor != anchors_.end()) {
                    trust.certificates[k].push_back(*anchor);
                    continue;
                }
            }
            auto skid =
                key.subject_key_id ? key.subject_key_id : skid_from_description(key.description);
            trust.opaque_keys[k].push_back(OpaqueKey{key.serial, key.description, std::move(skid)});
        }
    }
    trust.kernel_blacklist_tbs = keyrings_.blacklist_tbs();
    trust.kernel_blacklist_bin = keyrings_.blacklist_bin();
    return trust;
}

// ---------------------------------------------------------------------------
// Verify

std::vector<CertificateResult> Manager::verify(ByteView bundle,
                                               std::string_view keyring_name) const {
    auto k = parse_keyring_argument(keyring_name);
    std::vector<BundleEntry> entries;
    try {
        entries = read_bundle(bundle, ReadLimits{},
                              on_two_threads);  // over the limits, or empty: the call fails
    } catch (const Error& e) {
        // Bytes within bounds that hold nothing anchord can read (random
        // bytes, a wrong outer tag) still go to the kernel's parser: one
        // result shows the reader's failure beside the kernel's answer.
        if (e.code() != ErrorCode::InvalidCertificate || bundle.empty()) throw;
        BundleEntry raw;
        raw.der.assign(bundle.begin(), bundle.end());
        raw.error = e;
        entries.push_back(std::move(raw));
    }
    auto view = snapshot();
    auto trust = trust_snapshot(view);
    auto now = std::chrono::system_clock::now();
    const bool sealed = view.state->sealed.contains(k);

    std::vector<CertificateResult> results;
    results.reserve(entries.size());
    for (const auto& entry : entries) {
        CertificateResult r;
        r.index = static_cast<std::uint32_t>(entry.index);
        bool policy_ok = false;
        if (entry.certificate) {
            const auto& cert = *entry.certificate;
            r.fingerprint = cert.info().fingerprint;
            auto verdict = evaluate(cert, k, *view.policy, trust, kernel_, now);
            policy_ok = verdict.accepted;
            r.checks = std::move(verdict.checks);
            r.belongs_in = verdict.belongs_in;
            // The rest of the bundle may chain on it, as Enroll links in order.
            if (policy_ok) trust.certificates[k].push_back(cert);
        } else if (entry.error) {
            r.checks.push_back({"certificate.readable", Outcome::Fail, entry.error->what()});
        }
        // The kernel is asked even when the policy refused: its answer is
        // what a person needs to see to tell the two gates apart.
        if (!entry.der.empty()) {
            try {
                auto trial = keyrings_.trial(k, entry.der);
                r.kernel = {trial.accepted, trial.error_name, trial.reason};
                // The kernel applies restrict_link_by_digsig (.ima, .evm) and
                // restrict_link_by_ca (.machine) after its parser and before
                // the signature check; no scratch keyring carries them. Where
                // the parser took the certificate and the policy's model of
                // such a rule fails, the kernel's answer is ENOKEY.
                if (trial.parsed) {
                    for (const auto& rule : trial.predicted) {
                        auto failed =
                            std::find_if(r.checks.begin(), r.checks.end(), [&](const Check& c) {
                                return c.id == rule && c.outcome == Outcome::Fail;
                            });
                        if (failed == r.checks.end()) continue;
                        r.kernel = {
                            false, keyring::errno_name(ENOKEY),
                            "predicted by " + rule +
                                ", a rule the kernel applies before the signature "
                                "check and a scratch keyring cannot carry (there: " +
                                (trial.accepted ? std::string("accepted") : trial.error_name) +
                                "): " + failed->reason};
                        break;
                    }
                }
            } catch (const keyring::KernelError& e) {
                r.kernel = {false, keyring::errno_name(e.error_number()), e.what()};
            } catch (const Error& e) {
                r.kernel = {false, "", e.what()};
            }
        } else {
            r.kernel = {false, "", "not asked: there are no bytes to give the kernel"};
        }
        // anchord's own seal is no restriction the scratch keyring could
        // carry: say it here, as Enroll would refuse.
        if (sealed) {
            r.checks.push_back({"anchord.sealed", Outcome::Fail,
                                "keyring " + name_of(k) + " is sealed: it takes no further key"});
            policy_ok = false;
        }
        r.accepted = policy_ok && r.kernel.accepted;
        results.push_back(std::move(r));
    }
    // A dry run changes nothing: no decision event, a debug line only.
    auto accepted = std::count_if(results.begin(), results.end(),
                                  [](const CertificateResult& r) { return r.accepted; });
    journal::log(LOG_DEBUG,
                 "verify: " + std::to_string(accepted) + " of " + std::to_string(results.size()) +
                     " certificate(s) acceptable for " + name_of(k),
                 fields(k));
    return results;
}

// ---------------------------------------------------------------------------
// Enroll

class Manager::DriftPending {
  public:
    // A window is a generation of its own, so what a reader found in an
    // earlier one (even one whose pass threw) never serves this one.
    explicit DriftPending(Manager& m) : m_(m) {
        std::lock_guard lock(m_.data_mutex_);
        m_.drift_pending_ = true;
        ++m_.drift_generation_;
    }
    ~DriftPending() {
        std::lock_guard lock(m_.data_mutex_);
        m_.drift_pending_ = false;
    }
    DriftPending(const DriftPending&) = delete;
    DriftPending& operator=(const DriftPending&) = delete;

  private:
    Manager& m_;
};

std::vector<CertificateResult> Manager::enroll(ByteView bundle, std::string_view keyring_name,
                                               const EnrollOptions& options,
                                               const Requester& requester, const Answer& answer) {
    auto k = parse_keyring_argument(keyring_name);
    Notes notes;
    std::vector<CertificateResult> results;
    try {
        std::lock_guard lock(change_mutex_);
        results = enroll_locked(bundle, k, options, requester, state::Origin::Api, "", notes);
        // The drift pass lists and identifies every key of every keyring,
        // and the notifications are a bus message per key: the caller is
        // answered first (at 1,000 keys the pass is about a millisecond, a
        // sixth of a one-file enrollment).
        std::optional<DriftPending> pending;
        if (options.brief) notes.free_later(keep_notable_checks(results));
        if (answer) {
            pending.emplace(*this);
            answer(results);
        }
        refresh_drift_locked(notes);
    } catch (...) {
        deliver(notes);
        throw;
    }
    deliver(notes);
    return results;
}

std::vector<CertificateResult> Manager::enroll_locked(ByteView bundle, LogicalKeyring k,
                                                      const EnrollOptions& options,
                                                      const Requester& requester,
                                                      state::Origin origin,
                                                      const std::string& source, Notes& notes) {
    auto view = snapshot();
    const auto& location = keyrings_.location(k);
    const journal::Fields where = fields(k, std::nullopt, requester.uid);

    if (view.state->sealed.contains(k)) {
        journal::warning(journal::Event::Refused,
                         "enrollment into a sealed keyring refused: " + name_of(k),
                         fields(k, std::nullopt, requester.uid, "sealed"));
        throw Error(ErrorCode::Sealed, "keyring " + name_of(k) + " (" + location.kernel_name +
                                           ") is sealed: it takes no further key");
    }
    if (!location.serial) {
        throw Error(ErrorCode::NotFound, "keyring " + name_of(k) + " (" +
                                             (location.kernel_name.empty() ? std::string("unmapped")
                                                                           : location.kernel_name) +
                                             ") does not exist on this kernel");
    }

    auto entries = split_bundle(bundle, ReadLimits{});  // whole-input problems throw
    auto trust = trust_snapshot(view);
    auto now = std::chrono::system_clock::now();
    const auto present = certificate_keys(k);
    const auto index = this->index(view);
    const auto located = index->identifier.locate(k, present.keys(), index->recorded_in(k));

    enum class Plan { Refused, AlreadyEnrolled, Duplicate, Link };
    struct Step {
        Plan plan = Plan::Refused;
        std::optional<Certificate> certificate;
        std::size_t first = 0;  // for Duplicate: the position it repeats
    };
    std::vector<CertificateResult> results(entries.size());
    std::vector<Step> steps(entries.size());
    std::optional<Error> first_failure;
    std::map<Fingerprint, std::size_t> seen;

    // Position i's plan, in order: each accepted certificate joins the trust
    // that the next ones' verdicts see, for a bundle that carries its own
    // intermediate.
    auto decide = [&](std::size_t i) {
        auto& entry = entries[i];
        auto& r = results[i];
        auto& step = steps[i];
        r.index = static_cast<std::uint32_t>(entry.index);
        if (!entry.certificate) {
            std::string why = entry.error ? entry.error->what() : "unreadable";
            r.checks.push_back({"certificate.readable", Outcome::Fail, why});
            r.kernel = {false, "", "not linked: the certificate could not be read"};
            if (!first_failure) first_failure = Error(ErrorCode::InvalidCertificate, why);
            journal::warning(journal::Event::Refused, "unreadable certificate refused: " + why,
                             fields(k, std::nullopt, requester.uid, "invalid"));
            return;
        }
        const auto& cert = *entry.certificate;
        const auto& fp = cert.info().fingerprint;
        r.fingerprint = fp;
        if (auto it = seen.find(fp); it != seen.end()) {
            step.plan = Plan::Duplicate;
            step.first = it->second;
            return;
        }
        seen.emplace(fp, i);

        auto verdict = evaluate(cert, k, *view.policy, trust, kernel_, now);
        r.checks = std::move(verdict.checks);
        r.belongs_in = verdict.belongs_in;

        if (view.state->find(fp, k)) {
            if (auto it = located.find(fp); it != located.end()) {
                step.plan = Plan::AlreadyEnrolled;
                r.accepted = true;
                r.serial = it->second;
                r.kernel = {true, "", "already enrolled and linked"};
                return;
            }
            // Recorded but gone from the kernel: link it again below.
        }
        const auto* keyring_policy = view.policy->find(k);
        if (!verdict.accepted || !keyring_policy || !keyring_policy->enrollable) {
            std::string why =
                describe_position(i, fp) + " refused by the policy for keyring " + name_of(k) +
                ": " +
                (verdict.accepted ? std::string("the policy makes the keyring not enrollable")
                                  : failed_checks(r.checks));
            r.kernel = {false, "", "not linked: the policy refused it"};
            if (!first_failure) first_failure = Error(ErrorCode::PolicyRejected, why);
            journal::warning(journal::Event::Refused, why,
                             fields(k, fp, requester.uid, "policy-rejected"));
            return;
        }
        step.plan = Plan::Link;
        step.certificate = cert;
        trust.certificates[k].push_back(cert);
    };

    auto mirror_duplicates = [&] {
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (steps[i].plan != Plan::Duplicate) continue;
            auto index = results[i].index;
            results[i] = results[steps[i].first];
            results[i].index = index;
        }
    };

    // Write-ahead: should anchord die between the link and the record, the
    // next start knows what was under way. Each intent carries the
    // certificate, so that start can find the key even though no record
    // names it.
    std::vector<std::size_t> to_link;  // every position whose intent is saved
    state::State next = *view.state;
    std::shared_ptr<const state::State> ahead;  // what is on disk once intents are
    auto save_intents = [&](const std::vector<std::size_t>& part) {
        for (auto i : part) {
            next.add_intent({results[i].fingerprint.value(), k, state::IntentAction::Link,
                             steps[i].certificate->der()});
        }
        try {
            save_locked(next);
        } catch (const Error& e) {
            throw Error(
                ErrorCode::StateError,
                std::string("nothing was enrolled: the state cannot be saved: ") + e.what());
        }
        to_link.insert(to_link.end(), part.begin(), part.end());
        ahead = snapshot().state;
    };
    auto settle_intents = [&](state::State& s) {
        for (auto i : to_link)
            s.clear_intent({results[i].fingerprint.value(), k, state::IntentAction::Link});
    };
    auto abandon = [&] {
        // Nothing of this call stays: forget the intents (best effort; a
        // failure here leaves them for the next start to settle). From
        // `ahead`, never `next`: records of keys just unlinked must not be
        // saved.
        if (!ahead) return;
        state::State back = *ahead;
        settle_intents(back);
        try {
            save_locked(std::move(back));
        } catch (const Error& e) {
            journal::log(LOG_ERR, std::string("cannot clear write-ahead intents: ") + e.what(),
                         where);
        }
    };

    std::vector<keyring::LinkGuard> guards;
    std::vector<std::size_t> linked;
    // As this call began, under the change lock.
    keyring::Descriptions descriptions(present);
    auto link = [&](std::size_t i) {
        const auto& cert = *steps[i].certificate;
        auto& r = results[i];
        try {
            auto added = keyrings_.add(k, cert.der(), descriptions);
            // A key with the same description was there already and the
            // kernel replaced it with this one: undoing must not remove it.
            if (!added.already_present) guards.emplace_back(added.serial, *location.serial);
            r.accepted = true;
            r.serial = added.serial;
            r.kernel = {true, "", "linked into " + location.kernel_name};
            linked.push_back(i);
        } catch (const keyring::KernelError& e) {
            std::string name = keyring::errno_name(e.error_number());
            r.accepted = false;
            r.kernel = {false, name, e.what()};
            std::string why = describe_position(i, r.fingerprint) + " refused by the kernel (" +
                              name + "): " + e.what();
            journal::warning(journal::Event::Refused, why,
                             fields(k, r.fingerprint, requester.uid, "kernel-rejected:" + name));
            if (!options.partial) throw Error(e.code(), why);  // undone below
        }
    };

    // The bundle streams through two threads (manager/batch.hpp): this one
    // links each position once its intent is saved, the other decodes and
    // judges in order, so that a certificate may chain on one accepted
    // before it. A refusal of an all-or-nothing call after the linking
    // began undoes the links, so the call still changes nothing.
    constexpr std::size_t kWorthStreaming = 32;
    const bool streaming = entries.size() >= kWorthStreaming && two_cpus();
    BatchSteps batch;
    batch.judge = [&](std::size_t i) {
        decode_entry(entries[i]);
        decide(i);
        return !first_failure || options.partial;
    };
    batch.close_part = [&](std::size_t begin, std::size_t end) {
        std::vector<std::size_t> part;
        for (auto i = begin; i < end; ++i) {
            if (steps[i].plan == Plan::Link) part.push_back(i);
        }
        if (!part.empty()) save_intents(part);
    };
    batch.act = [&](std::size_t i) {
        if (steps[i].plan == Plan::Link) link(i);
    };

    try {
        if (!run_batch(entries.size(), streaming, batch)) throw *first_failure;
    } catch (...) {
        // Whatever stopped the call half-way (a refusal of an all-or-nothing
        // call, a failed save, judging that threw), once the judging ended:
        // the links it made go again (guards.clear unlinks them), and so do
        // its intents.
        guards.clear();
        abandon();
        throw;
    }
    if (to_link.empty()) {
        mirror_duplicates();
        notes.free_later(std::move(entries));
        return results;
    }

    settle_intents(next);
    std::vector<Certificate> parsed;
    for (auto i : linked) {
        const auto& fp = results[i].fingerprint.value();
        if (next.find(fp, k)) continue;  // linked again after drift: keep its record
        state::Record record;
        record.fingerprint = fp;
        record.keyring = k;
        record.der = steps[i].certificate->shared_der();
        record.origin = origin;
        record.source = source;
        record.enrolled_at = std::chrono::floor<std::chrono::seconds>(now);
        record.caller_uid = requester.uid;
        next.records.push_back(std::move(record));
        parsed.push_back(*steps[i].certificate);
    }
    try {
        save_locked(std::move(next), parsed);
    } catch (const Error& e) {
        guards.clear();
        abandon();
        throw Error(ErrorCode::StateError,
                    std::string("the enrollment was undone because the state cannot be saved: ") +
                        e.what());
    }
    for (auto& g : guards) g.commit();

    std::vector<Link> links;
    for (auto i : linked) links.push_back({k, results[i].fingerprint.value(), results[i].serial});
    remember_links(links);
    for (auto i : linked) {
        const auto& fp = results[i].fingerprint.value();
        auto serial = results[i].serial;
        journal::info(journal::Event::Enrolled,
                      describe_position(i, fp) + " enrolled into " + name_of(k) + " as key " +
                          std::to_string(serial.value),
                      fields(k, fp, requester.uid, "accepted"));
        notes.add([k, fp, serial](Listener& l) { l.key_enrolled(k, fp, serial); });
    }
    if (!linked.empty()) notes.add([k](Listener& l) { l.keys_changed(k); });
    mirror_duplicates();
    notes.free_later(std::move(entries));
    notes.free_later(std::move(steps));
    return results;
}

// ---------------------------------------------------------------------------
// Remove

void Manager::remove(std::string_view fingerprint_text, std::string_view keyring_name,
                     const Requester& requester) {
    auto fp = parse_fingerprint_argument(fingerprint_text);
    auto k = parse_keyring_argument(keyring_name);
    Notes notes;
    try {
        std::lock_guard lock(change_mutex_);
        auto view = snapshot();
        if (!view.state->find(fp, k)) {
            throw Error(ErrorCode::NotFound,
                        fp.to_string() + " is not enrolled by anchord in keyring " + name_of(k));
        }
        state::State next = *view.state;
        // With its certificate, the intent finds the key at the next start
        // even if the record were lost meanwhile.
        state::Intent intent{fp, k, state::IntentAction::Unlink, view.state->find(fp, k)->der};
        next.add_intent(intent);
        save_locked(next);

        std::vector<KeySerial> serials;
        const auto& location = keyrings_.location(k);
        if (location.serial) {
            const auto index = this->index(view);
            const auto& recorded = index->recorded_in(k);
            for (const auto& key : certificate_keys(k)) {
                auto id = index->identifier.identify(k, key, recorded);
                if (id && *id == fp) serials.push_back(key.serial);
            }
        }
        for (auto serial : serials) {
            try {
                keyrings_.unlink(k, serial);
            } catch (const keyring::KernelError& e) {
                if (e.code() == ErrorCode::Sealed) {
                    // A keyring sealed by its permissions refuses unlinks too:
                    // nothing changed, so the intent must not be settled at
                    // the next start as if the key were gone.
                    save_locked(*view.state);
                    throw;
                }
                if (e.code() != ErrorCode::NotFound) throw;  // the intent stays for the next start
            }
        }
        next.erase(fp, k);
        next.clear_intent(intent);
        save_locked(std::move(next));
        forget_links(k, fp);
        journal::info(journal::Event::Removed,
                      fp.to_string() + " removed from " + name_of(k) + " (" +
                          std::to_string(serials.size()) + " key(s) unlinked)",
                      fields(k, fp, requester.uid, "removed"));
        notes.add([k, fp](Listener& l) { l.key_removed(k, fp); });
        notes.add([k](Listener& l) { l.keys_changed(k); });
        refresh_drift_locked(notes);
    } catch (...) {
        deliver(notes);
        throw;
    }
    deliver(notes);
}

// ---------------------------------------------------------------------------
// Seal

bool Manager::seal(std::string_view keyring_name, const Requester& requester) {
    auto k = parse_keyring_argument(keyring_name);
    Notes notes;
    bool kernel_enforced = false;
    try {
        std::lock_guard lock(change_mutex_);
        auto view = snapshot();
        const auto& location = keyrings_.location(k);
        if (!location.serial) {
            throw Error(ErrorCode::NotFound,
                        "keyring " + name_of(k) + " does not exist on this kernel");
        }
        if (view.state->sealed.contains(k)) {
            auto it = view.seal_kernel.find(k);
            return it != view.seal_kernel.end() && it->second;
        }
        try {
            kernel_enforced = keyrings_.seal(k);
        } catch (const keyring::KernelError& e) {
            if (e.code() != ErrorCode::AccessDenied) throw;
            // A keyring the kernel made: root cannot restrict it.
            kernel_enforced = false;
        }
        state::State next = *view.state;
        next.sealed.insert(k);
        try {
            save_locked(next);
        } catch (const Error& e) {
            throw Error(ErrorCode::StateError,
                        std::string("the keyring is sealed in the kernel until reboot, but anchord "
                                    "cannot remember it: ") +
                            e.what());
        }
        {
            std::lock_guard data(data_mutex_);
            seal_kernel_[k] = kernel_enforced;
        }
        journal::info(
            journal::Event::Sealed,
            "keyring " + name_of(k) + " sealed " +
                (kernel_enforced ? "by the kernel" : "by anchord (the kernel cannot seal it)"),
            fields(k, std::nullopt, requester.uid,
                   kernel_enforced ? "kernel-enforced" : "anchord-enforced"));
        notes.add([k, kernel_enforced](Listener& l) { l.keyring_sealed(k, kernel_enforced); });
        refresh_drift_locked(notes);
    } catch (...) {
        deliver(notes);
        throw;
    }
    deliver(notes);
    return kernel_enforced;
}

// ---------------------------------------------------------------------------
// Start-up and reconciliation

void Manager::settle_intents_locked(Notes& notes) {
    auto view = snapshot();
    if (view.state->pending.empty()) return;
    state::State next = *view.state;
    std::set<LogicalKeyring> touched;
    // Each keyring is listed once: a bundle leaves hundreds of intents.
    // Keys unlinked meanwhile answer NotFound, which is skipped below.
    std::map<LogicalKeyring, keyring::Listing> listed;
    auto keys_of = [&](LogicalKeyring k) -> const std::vector<keyring::KeyEntry>& {
        auto it = listed.find(k);
        if (it == listed.end()) it = listed.emplace(k, certificate_keys(k)).first;
        return it->second.keys();
    };
    for (const auto& intent : view.state->pending) {
        const auto k = intent.keyring;
        const bool link = intent.action == state::IntentAction::Link;
        const auto* record = view.state->find(intent.fingerprint, k);
        if (link) {
            journal::info(journal::Event::Removed,
                          "an enrollment interrupted before it was recorded is rolled back",
                          fields(k, intent.fingerprint, std::nullopt, "rolled-back"));
        } else {
            journal::info(journal::Event::Removed, "an interrupted removal is finished",
                          fields(k, intent.fingerprint, std::nullopt, "removed"));
        }
        // A Link intent of a certificate recorded before (linked again after
        // drift): the key is the record's and stays.
        const bool unlink = !link || record == nullptr;
        const auto& location = keyrings_.location(k);
        bool settled = true;
        if (unlink && location.serial) {
            // The kernel shows a key by its description only. Every key that
            // may be this certificate's goes: one of a recorded certificate
            // sharing the description (same subject and key) is linked again
            // by reapply_locked, which runs next.
            const Bytes& der = !intent.der.empty() ? intent.der : record ? record->der : intent.der;
            std::optional<std::string> description;
            if (!der.empty()) {
                try {
                    description = parse_der_certificate(der).info().kernel_description;
                } catch (const Error& e) {
                    // anchord links only certificates it has read: this one
                    // was never linked.
                    journal::log(LOG_WARNING,
                                 std::string("an interrupted operation names a certificate that "
                                             "cannot be read: ") +
                                     e.what(),
                                 fields(k, intent.fingerprint));
                }
            }
            std::vector<KeySerial> serials;
            try {
                const auto& keys = keys_of(k);
                if (description) {
                    for (const auto& key : keys) {
                        if (key.description == *description) serials.push_back(key.serial);
                    }
                } else if (der.empty()) {
                    // A version 1 intent without its certificate: only the
                    // certificates anchord knows can be recognised.
                    const auto index = this->index(view);
                    const auto& recorded = index->recorded_in(k);
                    for (const auto& key : keys) {
                        auto id = index->identifier.identify(k, key, recorded);
                        if (id && *id == intent.fingerprint) serials.push_back(key.serial);
                    }
                }
            } catch (const Error& e) {
                journal::log(LOG_WARNING, std::string("cannot list a keyring: ") + e.what(),
                             fields(k));
                settled = false;
            }
            for (auto serial : serials) {
                try {
                    keyrings_.unlink(k, serial);
                    touched.insert(k);
                } catch (const Error& e) {
                    if (e.code() == ErrorCode::NotFound) continue;  // gone meanwhile
                    journal::log(LOG_ERR,
                                 "cannot unlink key " + std::to_string(serial.value) +
                                     "; the next start tries again: " + e.what(),
                                 fields(k, intent.fingerprint));
                    settled = false;
                }
            }
        }
        // An intent whose key may still be linked stays, so that no key
        // anchord linked is left without a trace.
        if (!settled) continue;
        if (!link) next.erase(intent.fingerprint, k);
        next.clear_intent(intent);
    }
    for (auto k : touched) notes.add([k](Listener& l) { l.keys_changed(k); });
    save_locked(next);
}

void Manager::reapply_locked(Notes& notes) {
    auto view = snapshot();
    std::vector<const state::Record*> pending;
    std::vector<Link> links;
    for (auto k : kApplyOrder) {
        const auto& location = keyrings_.location(k);
        bool any = false;
        for (const auto& r : view.state->records) any = any || r.keyring == k;
        if (!any) continue;
        if (!location.serial) {
            journal::warning(journal::Event::Drift,
                             "recorded certificates cannot be applied: keyring " + name_of(k) +
                                 " does not exist on this kernel",
                             fields(k));
            continue;
        }
        keyring::Listing keys;  // empty: absent, or not readable
        try {
            keys = certificate_keys(k);
        } catch (const Error& e) {
            journal::log(LOG_WARNING, std::string("cannot list a keyring: ") + e.what(), fields(k));
        }
        const auto index = this->index(view);
        const auto located = index->identifier.locate(k, keys.keys(), index->recorded_in(k));
        for (const auto& r : view.state->records) {
            if (r.keyring != k || !view.certificates->contains(r.fingerprint)) continue;
            if (auto it = located.find(r.fingerprint); it != located.end()) {
                links.push_back({k, r.fingerprint, it->second});
                continue;
            }
            pending.push_back(&r);
        }
    }
    for (const auto& [record, error] : link_again_locked(pending, links, notes)) {
        journal::error(journal::Event::Drift,
                       "a recorded certificate cannot be linked again: " + error,
                       fields(record->keyring, record->fingerprint, std::nullopt, "missing"));
    }
    remember_links(links);
}

std::vector<std::pair<const state::Record*, std::string>> Manager::link_again_locked(
    const std::vector<const state::Record*>& records, std::vector<Link>& links, Notes& notes) {
    std::vector<std::pair<const state::Record*, std::string>> left;
    for (const auto* r : records) left.emplace_back(r, "");
    std::map<LogicalKeyring, keyring::Descriptions> described;
    auto add = [&](const state::Record& r) {
        auto it = described.find(r.keyring);
        if (it == described.end()) {
            try {
                it = described.try_emplace(r.keyring, certificate_keys(r.keyring)).first;
            } catch (const Error&) {
                return keyrings_.add(r.keyring, r.der);  // unlisted: add reads it itself
            }
        }
        return keyrings_.add(r.keyring, r.der, it->second);
    };
    // Several passes: a certificate whose voucher is linked later in the
    // same pass gets its turn in the next one.
    bool progress = true;
    while (progress && !left.empty()) {
        progress = false;
        for (auto it = left.begin(); it != left.end();) {
            const auto& r = *it->first;
            try {
                auto added = add(r);
                links.push_back({r.keyring, r.fingerprint, added.serial});
                journal::info(
                    journal::Event::Reapplied,
                    r.fingerprint.to_string() + " linked again into " + name_of(r.keyring),
                    fields(r.keyring, r.fingerprint, r.caller_uid, "reapplied"));
                auto k = r.keyring;
                notes.add([k](Listener& l) { l.keys_changed(k); });
                it = left.erase(it);
                progress = true;
            } catch (const Error& e) {
                it->second = e.what();
                ++it;
            }
        }
    }
    return left;
}

void Manager::prelink_locked(Notes& notes) {
    std::shared_ptr<const state::State> state;
    {
        std::lock_guard lock(data_mutex_);
        state = state_;  // not snapshot(): it would wait for the parse
    }
    if (!state->pending.empty()) return;  // intents are settled first, on parsed records
    std::vector<const state::Record*> todo;
    for (auto k : kApplyOrder) {
        if (!keyrings_.location(k).serial) continue;
        try {
            if (!certificate_keys(k).empty()) continue;  // not a boot: identify them first
        } catch (const Error&) {
            continue;
        }
        for (const auto& r : state->records)
            if (r.keyring == k) todo.push_back(&r);
    }
    // What is left, reapply_locked tries again, on parsed records, and reports.
    std::vector<Link> links;
    link_again_locked(todo, links, notes);
    remember_links(links);
}

void Manager::restore() {
    Notes notes;
    {
        std::lock_guard lock(change_mutex_);
        prelink_locked(notes);
        settle_intents_locked(notes);
        reapply_locked(notes);
        auto view = snapshot();
        for (auto k : view.state->sealed) {
            bool kernel_enforced = false;
            try {
                kernel_enforced = keyrings_.seal(k);
            } catch (const Error& e) {
                journal::log(LOG_NOTICE,
                             "keyring " + name_of(k) + " keeps anchord's own seal: " + e.what(),
                             fields(k));
            }
            {
                std::lock_guard data(data_mutex_);
                seal_kernel_[k] = kernel_enforced;
            }
            journal::info(journal::Event::Sealed, "keyring " + name_of(k) + " sealed again",
                          fields(k, std::nullopt, std::nullopt,
                                 kernel_enforced ? "kernel-enforced" : "anchord-enforced"));
        }
    }
    deliver(notes);
}

std::vector<ProvisionEntry> Manager::provision(const fs::path& dropin_dir) {
    std::vector<ProvisionEntry> out;
    Notes notes;
    std::error_code ec;
    if (!fs::exists(dropin_dir, ec)) {
        journal::log(LOG_INFO,
                     "no drop-in folder " + dropin_dir.string() + ": nothing to provision");
    } else {
        std::lock_guard lock(change_mutex_);
        std::vector<std::pair<std::string, fs::path>> folders;  // (name, path)
        std::vector<fs::path> loose;
        try {
            for (const auto& entry : fs::directory_iterator(dropin_dir)) {
                if (entry.is_directory()) {
                    folders.emplace_back(entry.path().filename().string(), entry.path());
                } else if (is_certificate_file_name(entry.path())) {
                    loose.push_back(entry.path());
                }
            }
        } catch (const fs::filesystem_error& e) {
            journal::log(LOG_ERR, "cannot read the drop-in folder: " + std::string(e.what()));
        }
        // Known keyrings in the order vouchers come first; the rest by name.
        auto rank = [](const std::string& name) {
            auto k = parse_logical_keyring(name);
            if (!k) return kApplyOrder.size();
            return static_cast<std::size_t>(std::find(kApplyOrder.begin(), kApplyOrder.end(), *k) -
                                            kApplyOrder.begin());
        };
        std::sort(folders.begin(), folders.end(), [&](const auto& a, const auto& b) {
            return std::pair(rank(a.first), a.first) < std::pair(rank(b.first), b.first);
        });
        std::sort(loose.begin(), loose.end());
        for (const auto& file : loose) {
            out.push_back({file.string(), "", ProvisionOutcome::Refused,
                           "not in a keyring folder (" + keyring_list() + ")"});
        }
        for (const auto& [name, folder] : folders) {
            auto k = parse_logical_keyring(name);
            std::vector<fs::path> files;
            try {
                files = certificate_files(folder);
            } catch (const Error& e) {
                out.push_back({folder.string(), name, ProvisionOutcome::Refused, e.what()});
                continue;
            }
            for (const auto& file : files) {
                ProvisionEntry entry{file.string(), name, ProvisionOutcome::Refused, ""};
                try {
                    if (!k) {
                        throw Error(ErrorCode::InvalidArgument,
                                    "unknown keyring folder " + quote_argument(name) +
                                        ": expected one of " + keyring_list());
                    }
                    auto bytes = read_certificate_file(file);
                    auto entries = read_bundle(bytes, ReadLimits{}, on_two_threads);
                    auto view = snapshot();
                    bool all_known = !entries.empty();
                    for (const auto& e : entries) {
                        all_known = all_known && e.certificate &&
                                    view.state->find(e.certificate->info().fingerprint, *k);
                    }
                    if (all_known) {
                        entry.outcome = ProvisionOutcome::AlreadyEnrolled;
                        entry.reason = "already in the state for " + name;
                    } else {
                        auto results = enroll_locked(bytes, *k, EnrollOptions{}, Requester{0, ""},
                                                     state::Origin::Dropin, file.string(), notes);
                        entry.outcome = ProvisionOutcome::Enrolled;
                        entry.reason = std::to_string(results.size()) + " certificate(s) enrolled";
                    }
                } catch (const Error& e) {
                    entry.outcome = ProvisionOutcome::Refused;
                    entry.reason = e.what();
                    journal::warning(journal::Event::ProvisioningRefused,
                                     "drop-in " + file.string() + " refused: " + e.what(),
                                     fields(k, std::nullopt, 0, "refused"));
                }
                out.push_back(std::move(entry));
            }
        }
    }
    {
        std::lock_guard data(data_mutex_);
        provisioning_ = out;
    }
    deliver(notes);
    return out;
}

std::vector<DriftEntry> Manager::reconcile(const Requester& requester) {
    Notes notes;
    std::vector<DriftEntry> drift;
    {
        std::lock_guard lock(change_mutex_);
        journal::log(LOG_INFO, "reconciling on request",
                     fields(std::nullopt, std::nullopt, requester.uid));
        reapply_locked(notes);
        drift = refresh_drift_locked(notes);
    }
    deliver(notes);
    return drift;
}

// ---------------------------------------------------------------------------
// Drift

std::vector<DriftEntry> Manager::compute_drift(const Snapshot& view) const {
    std::vector<DriftEntry> drift;
    const auto index = this->index(view);
    const auto& identifier = index->identifier;
    for (auto k : kApplyOrder) {
        const auto& location = keyrings_.location(k);
        const auto& recorded = index->recorded_in(k);
        keyring::Listing keys;  // empty: absent, or not readable
        if (location.serial) {
            try {
                keys = certificate_keys(k);
            } catch (const Error& e) {
                journal::log(LOG_WARNING, std::string("cannot list a keyring: ") + e.what(),
                             fields(k));
                continue;
            }
        }
        FingerprintSet found;
        const auto* keyring_policy = view.policy->find(k);
        bool enrollable = keyring_policy && keyring_policy->enrollable;
        bool anchord_seal = false;
        if (view.state->sealed.contains(k)) {
            auto it = view.seal_kernel.find(k);
            anchord_seal = it == view.seal_kernel.end() || !it->second;
        }
        for (const auto& key : keys) {
            auto fp = identifier.identify(k, key, recorded);
            if (fp && recorded.contains(*fp)) {
                found.insert(*fp);
                continue;
            }
            if (k == LogicalKeyring::Builtin || (fp && anchor_fingerprints_.contains(*fp)))
                continue;
            std::string shown = fp ? fp->to_string() : "";
            std::string detail =
                "key " + std::to_string(key.serial.value) + " \"" + key.description + "\"";
            if (anchord_seal) {
                drift.push_back({k, shown, DriftKind::SealedBypass,
                                 detail + " is in a keyring anchord sealed"});
            } else if (enrollable) {
                drift.push_back(
                    {k, shown, DriftKind::Foreign, detail + " was not enrolled by anchord"});
            }
        }
        for (const auto& fp : recorded) {
            if (found.contains(fp)) continue;
            drift.push_back({k, fp.to_string(), DriftKind::Missing,
                             location.serial ? "recorded but not linked in " + location.kernel_name
                                             : "recorded but the keyring does not exist"});
        }
    }
    std::sort(drift.begin(), drift.end());
    return drift;
}

std::vector<DriftEntry> Manager::refresh_drift_locked(Notes& notes) {
    auto drift = compute_drift(snapshot());
    bool changed = false;
    {
        std::lock_guard data(data_mutex_);
        changed = drift != drift_;
        drift_ = drift;
        ++drift_generation_;
        last_reconcile_ = std::chrono::system_clock::now();
    }
    if (changed) {
        for (const auto& d : drift) {
            journal::warning(journal::Event::Drift,
                             "drift: " + std::string(to_string(d.kind)) + ": " + d.detail,
                             fields(d.keyring, Fingerprint::parse(d.fingerprint), std::nullopt,
                                    std::string(to_string(d.kind))));
        }
        if (drift.empty())
            journal::info(journal::Event::Drift, "the keyrings match the desired state");
        notes.add([drift](Listener& l) { l.drift_changed(drift, !drift.empty()); });
    }
    return drift;
}

std::vector<DriftEntry> Manager::refresh_drift() {
    Notes notes;
    std::vector<DriftEntry> drift;
    {
        std::lock_guard lock(change_mutex_);
        drift = refresh_drift_locked(notes);
    }
    deliver(notes);
    return drift;
}

// ---------------------------------------------------------------------------
// Policy

void Manager::reload_policy() {
    Notes notes;
    {
        std::lock_guard lock(change_mutex_);
        Policy fresh;
        try {
            fresh = load_policy_file(policy_file_);
        } catch (const Error& e) {
            journal::error(
                journal::Event::PolicyLoaded,
                std::string("the policy was not reloaded, the old one stays: ") + e.what(),
                fields(std::nullopt, std::nullopt, std::nullopt, "invalid"));
            throw;
        }
        auto digest = fresh.digest;
        bool changed = false;
        {
            std::lock_guard data(data_mutex_);
            changed = policy_->digest != digest;
            policy_ = std::make_shared<const Policy>(std::move(fresh));
        }
        journal::info(
            journal::Event::PolicyLoaded,
            "policy " + policy_file_.string() + " loaded (" + digest + ")",
            fields(std::nullopt, std::nullopt, std::nullopt, changed ? "changed" : "unchanged"));
        if (changed) {
            notes.add([](Listener& l) { l.policy_changed(); });
            refresh_drift_locked(notes);
        }
    }
    deliver(notes);
}

PolicyText Manager::policy() const {
    auto view = snapshot();
    return {policy_to_json(*view.policy), view.policy->digest};
}

// ---------------------------------------------------------------------------
// Readers

bool Manager::sandbox() const {
    return keyrings_.is_sandbox();
}

std::string Manager::policy_digest() const {
    std::lock_guard lock(data_mutex_);
    return policy_->digest;
}

bool Manager::compliant() const {
    return drift().empty();
}

std::uint64_t Manager::last_reconcile_usec() const {
    std::lock_guard lock(data_mutex_);
    if (drift_pending_ && drift_ahead_ && drift_ahead_->generation == drift_generation_)
        return usec_since_epoch(drift_ahead_->at);
    return usec_since_epoch(last_reconcile_);
}

std::vector<DriftEntry> Manager::drift() const {
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(data_mutex_);
        if (!drift_pending_) return drift_;
        if (drift_ahead_ && drift_ahead_->generation == drift_generation_)
            return drift_ahead_->drift;
        generation = drift_generation_;
    }
    return drift_ahead(generation);
}

std::vector<DriftEntry> Manager::drift_ahead(std::uint64_t generation) const {
    // A change was answered and its drift pass is under way: what that pass
    // will find is found here too, not the drift from before the change.
    // Waiting for the pass instead would deadlock a property read on the
    // bus thread with the answer, which needs that thread's connection.
    // The keyrings and the state hold still until the pass ends (the change
    // lock is held); should it end meanwhile, the next change may have begun
    // and what was found here may be half of it: the pass's result then.
    auto found = compute_drift(snapshot());
    const auto at = std::chrono::system_clock::now();
    std::lock_guard lock(data_mutex_);
    if (drift_generation_ != generation) return drift_;
    drift_ahead_ = DriftAhead{generation, found, at};
    return found;
}

std::vector<ProvisionEntry> Manager::provisioning() const {
    std::lock_guard lock(data_mutex_);
    return provisioning_;
}

KeyringView Manager::keyring(LogicalKeyring k) const {
    auto view = snapshot();
    const auto& location = keyrings_.location(k);
    KeyringView out;
    out.name = k;
    out.kernel_name = location.kernel_name;
    out.serial = location.serial.value_or(KeySerial{});
    out.present = location.serial.has_value();
    out.kernel_guarded = location.kernel_restricted;
    out.sealed = view.state->sealed.contains(k);
    if (const auto* p = view.policy->find(k)) out.role = std::string(to_string(p->role));
    return out;
}

std::shared_ptr<const std::vector<KeyView>> Manager::keys(LogicalKeyring k) const {
    auto view = snapshot();
    const auto index = this->index(view);
    const bool exists = keyrings_.location(k).serial.has_value();
    // A key's type and description cannot change, so the same keys under
    // the same index give the same answer: one read of the keyring tells,
    // where listing it copied every key's entry.
    auto serials = exists ? keyrings_.serials(k) : std::vector<KeySerial>{};
    {
        std::lock_guard lock(keys_mutex_);
        if (auto it = keys_answers_.find(k);
            it != keys_answers_.end() && it->second.index == index && it->second.serials == serials)
            return it->second.keys;
    }
    const auto& identifier = index->identifier;
    const auto& recorded = index->recorded_in(k);
    // The keys of that read, described: a key unlinked since is left out of
    // the answer (and the next read misses the cache), one linked since is
    // in the next read.
    auto listed = exists ? keyrings_.listing(k, serials) : keyring::Listing{};
    auto out = std::make_shared<std::vector<KeyView>>();
    out->reserve(listed.size());
    for (const auto& key : listed) {
        if (!is_certificate_key(key)) continue;
        KeyView v;
        v.serial = key.serial;
        v.description = key.description;
        v.fingerprint = identifier.identify(k, key, recorded);
        if (v.fingerprint && recorded.contains(*v.fingerprint)) {
            v.origin = KeyOrigin::Anchord;
        } else if (k == LogicalKeyring::Builtin ||
                   (v.fingerprint && anchor_fingerprints_.contains(*v.fingerprint))) {
            v.origin = KeyOrigin::Builtin;
        } else {
            v.origin = KeyOrigin::Foreign;
        }
        out->push_back(std::move(v));
    }
    std::shared_ptr<const std::vector<KeyView>> answer = std::move(out);
    std::lock_guard lock(keys_mutex_);
    keys_answers_[k] = KeysAnswer{index, std::move(serials), answer};
    return answer;
}

}  // namespace anchord::manager
