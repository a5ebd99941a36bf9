#include "state/state_store.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "anchord/base64.hpp"

namespace anchord::state {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Small helpers

class UniqueFd {
  public:
    explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // Closes now and reports close()'s errno (0 on success): a failed close
    // after a write can mean lost data, so save() must see it.
    int close_checked() noexcept {
        int fd = std::exchange(fd_, -1);
        if (fd >= 0 && ::close(fd) != 0) return errno;
        return 0;
    }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_;
};

std::string errno_text(int err) {
    return std::strerror(err);
}

// "2026-11-22T10:00:00Z", UTC, second precision.
std::string format_timestamp(std::chrono::sys_seconds t) {
    auto day = std::chrono::floor<std::chrono::days>(t);
    std::chrono::year_month_day ymd{day};
    std::chrono::hh_mm_ss hms{t - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::optional<std::chrono::sys_seconds> parse_timestamp(std::string_view s) {
    // Exactly YYYY-MM-DDTHH:MM:SSZ.
    static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
    if (s.size() != kShape.size()) return std::nullopt;
    for (std::size_t i = 0; i < s.size(); ++i) {
        bool digit = s[i] >= '0' && s[i] <= '9';
        if (kShape[i] == 'd' ? !digit : s[i] != kShape[i]) return std::nullopt;
    }
    auto num = [&](std::size_t pos, std::size_t len) {
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
        return v;
    };
    std::chrono::year_month_day ymd{std::chrono::year{num(0, 4)},
                                    std::chrono::month{static_cast<unsigned>(num(5, 2))},
                                    std::chrono::day{static_cast<unsigned>(num(8, 2))}};
    int h = num(11, 2), m = num(14, 2), sec = num(17, 2);
    if (!ymd.ok() || h > 23 || m > 59 || sec > 59) return std::nullopt;
    return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{m} +
           std::chrono::seconds{sec};
}

// ---------------------------------------------------------------------------
// Reading: every complaint names the file and the JSON pointer of the value.

class Reader {
  public:
    // `line`: a journal's line number, 0 for the snapshot.
    explicit Reader(const fs::path& file, std::size_t line = 0) : file_(file), line_(line) {}

    [[noreturn]] void fail(const std::string& pointer, const std::string& what) const {
        std::string where = pointer.empty() ? "" : " at " + pointer;
        std::string name =
            line_ == 0 ? "state file " + file_.string()
                       : "state journal " + file_.string() + ", line " + std::to_string(line_);
        std::string without =
            line_ == 0 ? "an empty state" : "the snapshot alone, losing the changes made since";
        throw Error(ErrorCode::StateError,
                    name + ": " + what + where +
                        ". anchord leaves the file untouched and will not start with it: "
                        "move it away (for example to " +
                        file_.string() + ".bad) to start with " + without +
                        ", or restore a backup");
    }

    const json& member(const json& object, const std::string& pointer, const char* key) const {
        auto it = object.find(key);
        if (it == object.end()) fail(pointer, std::string("missing member \"") + key + "\"");
        return *it;
    }

    const json& object(const json& value, const std::string& pointer) const {
        if (!value.is_object()) fail(pointer, "expected an object, found " + type_of(value));
        return value;
    }

    const json& array(const json& value, const std::string& pointer) const {
        if (!value.is_array()) fail(pointer, "expected an array, found " + type_of(value));
        return value;
    }

    const std::string& string(const json& value, const std::string& pointer) const {
        if (!value.is_string()) fail(pointer, "expected a string, found " + type_of(value));
        return value.get_ref<const std::string&>();
    }

    Fingerprint fingerprint(const json& value, const std::string& pointer) const {
        const auto& text = string(value, pointer);
        auto fp = Fingerprint::parse(text);
        if (!fp || !text.starts_with("sha256:")) {
            fail(pointer, "\"" + text + "\" is not a fingerprint of the form sha256:HEX");
        }
        return *fp;
    }

    LogicalKeyring keyring(const json& value, const std::string& pointer) const {
        const auto& text = string(value, pointer);
        auto k = parse_logical_keyring(text);
        if (!k) fail(pointer, "\"" + text + "\" is not a keyring name");
        return *k;
    }

  private:
    static std::string type_of(const json& value) { return value.type_name(); }

    const fs::path& file_;
    std::size_t line_;
};

// A certificate's DER in base64 that must hash to `fingerprint`.
Bytes read_der(const Reader& r, const json& value, const std::string& ptr,
               const Fingerprint& fingerprint, const char* owner) {
    const auto& text = r.string(value, ptr);
    auto der = base64::decode(text);
    if (!der) r.fail(ptr, "the certificate is not valid base64");
    if (der->empty()) r.fail(ptr, "the certificate is empty");
    if (Fingerprint::of_der(*der) != fingerprint) {
        r.fail(ptr, "the certificate's SHA-256 is " + Fingerprint::of_der(*der).to_string() +
                        " but the " + owner + " says " + fingerprint.to_string());
    }
    return std::move(*der);
}

Record read_record(const Reader& r, const json& value, const std::string& ptr) {
    r.object(value, ptr);
    Record rec;
    rec.fingerprint = r.fingerprint(r.member(value, ptr, "fingerprint"), ptr + "/fingerprint");
    rec.keyring = r.keyring(r.member(value, ptr, "keyring"), ptr + "/keyring");
    rec.der = read_der(r, r.member(value, ptr, "der"), ptr + "/der", rec.fingerprint, "record");

    const auto& origin = r.string(r.member(value, ptr, "origin"), ptr + "/origin");
    auto o = parse_origin(origin);
    if (!o) r.fail(ptr + "/origin", "\"" + origin + "\" is not one of api, drop-in, sandbox");
    rec.origin = *o;

    rec.source = r.string(r.member(value, ptr, "source"), ptr + "/source");

    const auto& when = r.string(r.member(value, ptr, "enrolled_at"), ptr + "/enrolled_at");
    auto t = parse_timestamp(when);
    if (!t)
        r.fail(ptr + "/enrolled_at", "\"" + when + "\" is not a time like 2026-11-22T10:00:00Z");
    rec.enrolled_at = *t;

    const auto& uid = r.member(value, ptr, "caller_uid");
    if (!uid.is_number_unsigned() ||
        uid.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
        r.fail(ptr + "/caller_uid",
               "expected a uid (an integer from 0 to 4294967295), found " + uid.dump());
    }
    rec.caller_uid = uid.get<std::uint32_t>();
    return rec;
}

Intent read_intent(const Reader& r, const json& value, const std::string& ptr, int version) {
    r.object(value, ptr);
    Intent in;
    in.fingerprint = r.fingerprint(r.member(value, ptr, "fingerprint"), ptr + "/fingerprint");
    in.keyring = r.keyring(r.member(value, ptr, "keyring"), ptr + "/keyring");
    const auto& action = r.string(r.member(value, ptr, "action"), ptr + "/action");
    if (action == "link") {
        in.action = IntentAction::Link;
    } else if (action == "unlink") {
        in.action = IntentAction::Unlink;
    } else {
        r.fail(ptr + "/action", "\"" + action + "\" is not one of link, unlink");
    }
    if (auto it = value.find("der"); it != value.end()) {
        if (version < 2) r.fail(ptr + "/der", "\"der\" in an intent needs version 2");
        in.der = read_der(r, *it, ptr + "/der", in.fingerprint, "intent");
    }
    return in;
}

void read_sealed(const Reader& r, const json& value, const std::string& ptr, State& s) {
    r.array(value, ptr);
    s.sealed.clear();
    for (std::size_t i = 0; i < value.size(); ++i)
        s.sealed.insert(r.keyring(value[i], ptr + "/" + std::to_string(i)));
}

void read_pending(const Reader& r, const json& value, const std::string& ptr, int version,
                  State& s) {
    r.array(value, ptr);
    s.pending.clear();
    for (std::size_t i = 0; i < value.size(); ++i)
        s.add_intent(read_intent(r, value[i], ptr + "/" + std::to_string(i), version));
}

json parse_json(const Reader& r, std::string_view text) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        r.fail("", std::string("not valid JSON (") + e.what() + ")");
    }
}

// 16 hex digits naming a snapshot; its journal's header repeats them.
bool is_snapshot_id(std::string_view text) {
    return text.size() == 16 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

struct Snapshot {
    State state;
    std::string id;  // "" before version 3: no journal continues it
};

Snapshot parse_state(const fs::path& file, const std::string& text) {
    Reader r(file);
    json doc = parse_json(r, text);
    r.object(doc, "");

    Snapshot snapshot;
    State& s = snapshot.state;
    const auto& version = r.member(doc, "", "version");
    if (!version.is_number_integer())
        r.fail("/version", "expected an integer, found " + version.dump());
    const auto file_version = version.get<std::int64_t>();
    if (file_version < State::kOldestReadableVersion || file_version > State::kVersion) {
        r.fail("/version", "unknown version " + version.dump() + " (this anchord reads versions " +
                               std::to_string(State::kOldestReadableVersion) + " to " +
                               std::to_string(State::kVersion) +
                               "; was the file written by a newer one?)");
    }

    if (auto it = doc.find("snapshot_id"); it != doc.end()) {
        if (file_version < 3) r.fail("/snapshot_id", "\"snapshot_id\" needs version 3");
        const auto& id = r.string(*it, "/snapshot_id");
        if (!is_snapshot_id(id)) r.fail("/snapshot_id", "\"" + id + "\" is not 16 hex digits");
        snapshot.id = id;
    }

    const auto& records = r.array(r.member(doc, "", "records"), "/records");
    for (std::size_t i = 0; i < records.size(); ++i) {
        std::string ptr = "/records/" + std::to_string(i);
        Record rec = read_record(r, records[i], ptr);
        if (s.find(rec.fingerprint, rec.keyring) != nullptr) {
            r.fail(ptr, "a second record of " + rec.fingerprint.to_string() + " in keyring " +
                            std::string(to_string(rec.keyring)));
        }
        s.records.push_back(std::move(rec));
    }
    if (auto it = doc.find("sealed"); it != doc.end()) read_sealed(r, *it, "/sealed", s);
    if (auto it = doc.find("pending"); it != doc.end())
        read_pending(r, *it, "/pending", static_cast<int>(file_version), s);
    return snapshot;
}

// ---------------------------------------------------------------------------
// The journal: a header line naming the snapshot, then one line per save,
// {"ops": [...]}, each op one of
//   {"record": RECORD}                       add, or replace in place
//   {"forget": {"fingerprint", "keyring"}}   remove the record
//   {"sealed": [KEYRING...]}                 the whole set
//   {"pending": [INTENT...]}                 the whole list
// A save's forgets come first, then its records in the state's order, so
// replaying gives the records in the order they were saved.

constexpr int kJournalFormat = 1;

using RecordKey = std::pair<Fingerprint, LogicalKeyring>;

RecordKey key_of(const Record& rec) {
    return {rec.fingerprint, rec.keyring};
}

struct RecordKeyHash {
    std::size_t operator()(const RecordKey& key) const noexcept {
        return std::hash<Fingerprint>{}(key.first) ^ static_cast<std::size_t>(key.second);
    }
};

// A record's position in a list of records.
using RecordIndex = std::unordered_map<RecordKey, std::size_t, RecordKeyHash>;

// Applies the ops of one journal line to `s`, whose records are indexed.
class Replay {
  public:
    explicit Replay(State& s) : state_(s) {
        index_.reserve(s.records.size());
        for (auto& rec : s.records) {
            index_.emplace(key_of(rec), slots_.size());
            slots_.emplace_back(std::move(rec));
        }
        s.records.clear();
    }

    void line(const Reader& r, const json& doc) {
        r.object(doc, "");
        const auto& ops = r.array(r.member(doc, "", "ops"), "/ops");
        for (std::size_t i = 0; i < ops.size(); ++i) {
            const std::string ptr = "/ops/" + std::to_string(i);
            const auto& op = r.object(ops[i], ptr);
            if (op.size() != 1) r.fail(ptr, "expected exactly one operation");
            const auto only = op.begin();
            const std::string& name = only.key();
            const json& value = only.value();
            const std::string at = ptr + "/" + name;
            if (name == "record") {
                upsert(read_record(r, value, at));
            } else if (name == "forget") {
                r.object(value, at);
                auto fp = r.fingerprint(r.member(value, at, "fingerprint"), at + "/fingerprint");
                auto k = r.keyring(r.member(value, at, "keyring"), at + "/keyring");
                if (auto it = index_.find({fp, k}); it != index_.end()) {
                    slots_[it->second].reset();
                    index_.erase(it);
                }
            } else if (name == "sealed") {
                read_sealed(r, value, at, state_);
            } else if (name == "pending") {
                read_pending(r, value, at, State::kVersion, state_);
            } else {
                r.fail(ptr, "\"" + name + "\" is not one of record, forget, sealed, pending");
            }
        }
    }

    void finish() {
        for (auto& slot : slots_) {
            if (slot) state_.records.push_back(std::move(*slot));
        }
    }

  private:
    void upsert(Record rec) {
        auto [it, added] = index_.emplace(key_of(rec), slots_.size());
        if (added) {
            slots_.emplace_back(std::move(rec));
        } else {
            slots_[it->second] = std::move(rec);
        }
    }

    State& state_;
    std::vector<std::optional<Record>> slots_;
    RecordIndex index_;
};

struct JournalRead {
    bool continues = false;     // its header names the snapshot
    std::uintmax_t length = 0;  // the whole lines; anything after was cut short
};

// Replays `text`, the journal, onto `snapshot`'s state.
JournalRead replay_journal(const fs::path& file, std::string_view text, Snapshot& snapshot) {
    JournalRead result;
    std::size_t line_number = 0;
    std::optional<Replay> replay;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) break;  // cut short by a crash: never acknowledged
        ++line_number;
        Reader r(file, line_number);
        const auto line = text.substr(pos, end - pos);
        json doc = parse_json(r, line);
        if (line_number == 1) {
            r.object(doc, "");
            const auto& format = r.member(doc, "", "journal");
            if (format != kJournalFormat)
                r.fail("/journal", "unknown journal format " + format.dump());
            const auto& id = r.string(r.member(doc, "", "snapshot_id"), "/snapshot_id");
            if (id != snapshot.id) return result;  // a new snapshot was written after it
            result.continues = true;
            replay.emplace(snapshot.state);
        } else {
            replay->line(r, doc);
        }
        pos = end + 1;
        result.length = pos;
    }
    if (replay) replay->finish();
    return result;
}

// ---------------------------------------------------------------------------
// Writing

// A JSON string of text that may hold anything: escaped by nlohmann. A
// drop-in path need not be UTF-8; JSON strings must be. Such bytes become
// U+FFFD in `source`, which is informational, rather than making the whole
// state unsavable.
void append_json_string(std::string& out, const std::string& text) {
    out += json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Text that is ASCII with nothing to escape by construction: names, hex,
// base64, timestamps.
void append_plain(std::string& out, std::string_view key, std::string_view value) {
    out += '"';
    out += key;
    out += "\": \"";
    out += value;
    out += '"';
}

std::size_t size_estimate(const Record& rec) {
    return 256 + rec.source.size() + rec.der.size() * 4 / 3;
}

// One line each: a journal line holds whole records. The documents are
// written by hand, not built as json values: with a thousand records,
// building and dumping that value cost more than writing the file.
// "fingerprint": ..., "keyring": ...: what names a record, an intent, a forget.
void append_key(std::string& out, const Fingerprint& fingerprint, LogicalKeyring keyring) {
    append_plain(out, "fingerprint", fingerprint.to_string());
    out += ", ";
    append_plain(out, "keyring", to_string(keyring));
}

void append_record(std::string& out, const Record& rec) {
    out += '{';
    append_key(out, rec.fingerprint, rec.keyring);
    out += ", ";
    append_plain(out, "origin", to_string(rec.origin));
    out += ", \"source\": ";
    append_json_string(out, rec.source);
    out += ", ";
    append_plain(out, "enrolled_at", format_timestamp(rec.enrolled_at));
    out += ", \"caller_uid\": ";
    out += std::to_string(rec.caller_uid);
    out += ", ";
    append_plain(out, "der", base64::encode(rec.der));
    out += '}';
}

void append_sealed(std::string& out, const std::set<LogicalKeyring>& sealed) {
    out += '[';
    const char* separator = "";
    for (auto k : sealed) {
        out += separator;
        separator = ", ";
        out += '"';
        out += to_string(k);
        out += '"';
    }
    out += ']';
}

void append_pending(std::string& out, const std::vector<Intent>& pending,
                    std::string_view separator) {
    out += '[';
    std::string_view before = "";
    for (const auto& in : pending) {
        out += before;
        before = separator;
        out += '{';
        append_key(out, in.fingerprint, in.keyring);
        out += ", ";
        append_plain(out, "action", to_string(in.action));
        if (!in.der.empty()) {
            out += ", ";
            append_plain(out, "der", base64::encode(in.der));
        }
        out += '}';
    }
    out += ']';
}

std::string serialize(const State& s, std::string_view snapshot_id) {
    std::size_t estimate = 128;
    for (const auto& rec : s.records) estimate += size_estimate(rec);
    for (const auto& in : s.pending) estimate += 192 + in.der.size() * 4 / 3;
    std::string out;
    out.reserve(estimate);

    out += "{\n  \"version\": ";
    out += std::to_string(s.version);
    out += ",\n  ";
    append_plain(out, "snapshot_id", snapshot_id);
    out += ",\n  \"records\": [";
    const char* separator = "\n    ";
    for (const auto& rec : s.records) {
        out += separator;
        separator = ",\n    ";
        append_record(out, rec);
    }
    out += s.records.empty() ? "]" : "\n  ]";
    out += ",\n  \"sealed\": ";
    append_sealed(out, s.sealed);
    out += ",\n  \"pending\": ";
    append_pending(out, s.pending, ",\n    ");
    out += "\n}\n";
    return out;
}

std::string journal_header(std::string_view snapshot_id) {
    std::string out = "{\"journal\": " + std::to_string(kJournalFormat) + ", ";
    append_plain(out, "snapshot_id", snapshot_id);
    out += "}\n";
    return out;
}

Record without_der(const Record& rec) {
    return Record{rec.fingerprint, rec.keyring,     Bytes{},       rec.origin,
                  rec.source,      rec.enrolled_at, rec.caller_uid};
}

bool same_except_der(const Record& a, const Record& b) {
    // The fingerprint is the DER's hash: equal keys mean equal DER.
    return a.origin == b.origin && a.source == b.source && a.enrolled_at == b.enrolled_at &&
           a.caller_uid == b.caller_uid;
}

// What a save changes in the files: the ops of its journal line, and how
// Known follows them. Points into the state being saved.
struct Changes {
    std::vector<std::size_t> forgotten;                           // Known positions, ascending
    std::vector<std::pair<std::size_t, const Record*>> replaced;  // Known position, new value
    std::vector<const Record*> added;                             // after all the others
    bool sealed = false;
    bool pending = false;

    bool empty() const {
        return forgotten.empty() && replaced.empty() && added.empty() && !sealed && !pending;
    }
};

// What the files hold, without the certificates: enough to tell what a
// save changes.
struct Known {
    std::vector<Record> records;  // der left empty
    RecordIndex index;            // position in `records`
    std::set<LogicalKeyring> sealed;
    std::vector<Intent> pending;
    // False after a whole save of a state that broke its rule of one record
    // per key: the index then names only the first of each, and a position
    // alone does not say which record is which.
    bool unique = true;

    explicit Known(const State& s) : sealed(s.sealed), pending(s.pending) {
        records.reserve(s.records.size());
        index.reserve(s.records.size());
        for (const auto& rec : s.records) {
            index.emplace(key_of(rec), records.size());
            records.push_back(without_der(rec));
        }
        unique = index.size() == records.size();
    }

    // Follows a save that wrote `changes` of `now`. Rebuilding from `now`
    // would copy and index every record on every save; a save that only
    // adds touches only what it adds, and only a forget moves the rest.
    void apply(const Changes& changes, const State& now) {
        if (!unique) {
            *this = Known(now);
            return;
        }
        for (const auto& [position, rec] : changes.replaced) records[position] = without_der(*rec);
        if (!changes.forgotten.empty()) {
            for (auto position : changes.forgotten) index.erase(key_of(records[position]));
            auto forgotten = changes.forgotten.begin();
            std::size_t to = *forgotten;
            for (std::size_t from = to; from < records.size(); ++from) {
                if (forgotten != changes.forgotten.end() && *forgotten == from) {
                    ++forgotten;
                    continue;
                }
                index.find(key_of(records[from]))->second = to;
                records[to++] = std::move(records[from]);
            }
            records.resize(to);
        }
        for (const auto* rec : changes.added) {
            index.emplace(key_of(*rec), records.size());
            records.push_back(without_der(*rec));
        }
        if (changes.sealed) sealed = now.sealed;
        if (changes.pending) pending = now.pending;
    }
};

// What turns `known` into `now`; nullopt when the order of `now`'s records
// cannot be reached by removing records and adding new ones at the end
// (anchord never reorders; a caller that does gets the whole state written).
std::optional<Changes> changes_to(const Known& known, const State& now) {
    Changes changes;
    std::unordered_set<RecordKey, RecordKeyHash> added;
    std::size_t next_old = 0;  // the position after the last record kept
    for (const auto& rec : now.records) {
        // Records mostly stay where they were: compare with the next one
        // before searching the index.
        const auto key = key_of(rec);
        std::size_t position = next_old;
        if (!known.unique || !changes.added.empty() || next_old >= known.records.size() ||
            key_of(known.records[next_old]) != key) {
            auto it = known.index.find(key);
            if (it == known.index.end()) {
                if (!added.insert(key).second) return std::nullopt;  // a duplicate
                changes.added.push_back(&rec);
                continue;
            }
            if (!changes.added.empty() || it->second < next_old) return std::nullopt;
            position = it->second;
        }
        for (; next_old < position; ++next_old) changes.forgotten.push_back(next_old);
        ++next_old;
        if (!same_except_der(known.records[position], rec))
            changes.replaced.emplace_back(position, &rec);
    }
    for (; next_old < known.records.size(); ++next_old) changes.forgotten.push_back(next_old);
    changes.sealed = now.sealed != known.sealed;
    changes.pending = now.pending != known.pending;
    return changes;
}

// The journal line of `changes`, which are not empty: forgets first, then
// records in the state's order.
std::string journal_line(const Known& known, const Changes& changes, const State& now) {
    std::string out = "{\"ops\": [";
    const char* separator = "";
    auto op = [&](std::string_view name) {
        out += separator;
        separator = ", ";
        out += "{\"";
        out += name;
        out += "\": ";
    };
    for (auto position : changes.forgotten) {
        op("forget");
        out += '{';
        append_key(out, known.records[position].fingerprint, known.records[position].keyring);
        out += "}}";
    }
    for (const auto& [position, rec] : changes.replaced) {
        op("record");
        append_record(out, *rec);
        out += '}';
    }
    for (const auto* rec : changes.added) {
        op("record");
        append_record(out, *rec);
        out += '}';
    }
    if (changes.sealed) {
        op("sealed");
        append_sealed(out, now.sealed);
        out += '}';
    }
    if (changes.pending) {
        op("pending");
        append_pending(out, now.pending, ", ");
        out += '}';
    }
    out += "]}\n";
    return out;
}

// Creates `dir` and any missing parents, each 0700: the state reveals which
// certificates a machine trusts and who enrolled them.
void make_private_dir(const fs::path& dir) {
    fs::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
            int err = errno;
            throw Error(ErrorCode::StateError, "cannot create the state directory " +
                                                   partial.string() + ": " + errno_text(err));
        }
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Error(ErrorCode::StateError,
                    "the state directory " + dir.string() + " is not a directory");
    }
}

// save() writes a new file here first; mkostemp replaces the six X.
constexpr std::array<std::string_view, 2> kTempPrefixes{".state.json.", ".state.journal."};

// A save interrupted between mkostemp and rename (SIGKILL, power loss)
// leaves its temporary file behind, as large as the state: removed by the
// next save. One anchord owns a state directory, so none is in use.
void remove_stale_temporaries(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        for (auto prefix : kTempPrefixes) {
            if (name.size() == prefix.size() + 6 && name.starts_with(prefix) &&
                it->is_regular_file(ec)) {
                ::unlink(it->path().c_str());
            }
        }
    }
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
};

FileId id_of(const struct stat& st) {
    return {st.st_dev, st.st_ino};
}

std::optional<FileId> id_of(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return std::nullopt;
    return id_of(st);
}

// Replaces `target` with `text` atomically and durably: a temporary file
// (prefix `temp_prefix`), fsync, rename, fsync of the directory. On a
// failure before the rename the temporary file is removed and `target` is
// as it was.
void replace_file(const fs::path& dir, const fs::path& target, std::string_view temp_prefix,
                  std::string_view text) {
    std::string temp = (dir / (std::string(temp_prefix) + "XXXXXX")).string();
    UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd) {
        int err = errno;
        throw Error(ErrorCode::StateError, "cannot create a temporary state file in " +
                                               dir.string() + ": " + errno_text(err));
    }
    auto fail = [&](const std::string& what, int err) {
        fd.reset();
        ::unlink(temp.c_str());
        return Error(ErrorCode::StateError, "saving the state failed: " + what + ": " +
                                                errno_text(err) + "; " + target.string() +
                                                " is unchanged");
    };
    // errno is copied before building the message: an allocation may clobber it.
    if (::fchmod(fd.get(), 0600) != 0) {
        int err = errno;
        throw fail("cannot set the mode of " + temp, err);
    }
    if (!write_all(fd.get(), text)) {
        int err = errno;
        throw fail("cannot write " + temp, err);
    }
    if (::fsync(fd.get()) != 0) {
        int err = errno;
        throw fail("cannot flush " + temp, err);
    }
    if (int err = fd.close_checked(); err != 0) throw fail("cannot close " + temp, err);
    if (::rename(temp.c_str(), target.c_str()) != 0) {
        int err = errno;
        throw fail("cannot rename " + temp + " to " + target.string(), err);
    }
    // The rename is durable only once the directory entry is.
    UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd || ::fsync(dirfd.get()) != 0) {
        int err = errno;
        throw Error(ErrorCode::StateError, "the new state is in " + target.string() +
                                               " but flushing its directory failed (" +
                                               errno_text(err) +
                                               "); it may not survive a power loss");
    }
}

// A file read whole, at most kMaxStateFileSize bytes; nullopt when missing.
struct ReadFile {
    std::string text;
    FileId id;
};

std::optional<ReadFile> read_file(const fs::path& file, std::string_view what) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        int err = errno;
        if (err == ENOENT) return std::nullopt;
        throw Error(ErrorCode::StateError, "cannot open the " + std::string(what) + " " +
                                               file.string() + ": " + errno_text(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        int err = errno;
        throw Error(ErrorCode::StateError, "cannot stat the " + std::string(what) + " " +
                                               file.string() + ": " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(ErrorCode::StateError, "the " + std::string(what) + " " + file.string() +
                                               " is not a regular file; move it away");
    }
    auto too_big = [&] {
        return Error(ErrorCode::StateError, "the " + std::string(what) + " " + file.string() +
                                                " is larger than " +
                                                std::to_string(kMaxStateFileSize / (1024 * 1024)) +
                                                " MiB and cannot be anchord's; move it away");
    };
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxStateFileSize) throw too_big();

    // Read to EOF rather than trusting st_size: the bound holds even if the
    // file grows while we read.
    ReadFile out;
    out.id = id_of(st);
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            throw Error(ErrorCode::StateError, "cannot read the " + std::string(what) + " " +
                                                   file.string() + ": " + errno_text(err));
        }
        if (n == 0) break;
        out.text.append(buf, static_cast<std::size_t>(n));
        if (out.text.size() > kMaxStateFileSize) throw too_big();
    }
    return out;
}

// Names a new snapshot. Random rather than counted: a store that did not
// read the files (or read an older version) cannot know the last number, and
// a journal of another snapshot must never seem to continue this one.
std::string new_snapshot_id() {
    std::uint64_t value = 0;
    if (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
        static std::atomic<std::uint64_t> counter{0};
        value = static_cast<std::uint64_t>(
                    std::chrono::system_clock::now().time_since_epoch().count()) ^
                (static_cast<std::uint64_t>(::getpid()) << 40) ^ ++counter;
    }
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return text;
}

}  // namespace

// ---------------------------------------------------------------------------

struct StateStore::Disk {
    Disk(const State& state, std::string id, FileId snapshot_file, std::uintmax_t snapshot_bytes,
         FileId journal_file, std::uintmax_t journal_bytes)
        : snapshot_id(std::move(id)),
          snapshot(snapshot_file),
          snapshot_size(snapshot_bytes),
          journal(journal_file),
          journal_length(journal_bytes),
          known(state) {}

    std::string snapshot_id;
    FileId snapshot;
    std::uintmax_t snapshot_size;
    FileId journal;
    std::uintmax_t journal_length;  // its whole lines
    UniqueFd append_fd;             // opened at the first append
    Known known;
};

std::string_view to_string(Origin origin) noexcept {
    switch (origin) {
        case Origin::Api:
            return "api";
        case Origin::Dropin:
            return "drop-in";
        case Origin::Sandbox:
            return "sandbox";
    }
    return "?";
}

std::optional<Origin> parse_origin(std::string_view text) noexcept {
    for (auto o : {Origin::Api, Origin::Dropin, Origin::Sandbox}) {
        if (to_string(o) == text) return o;
    }
    return std::nullopt;
}

std::string_view to_string(IntentAction action) noexcept {
    return action == IntentAction::Link ? "link" : "unlink";
}

const Record* State::find(const Fingerprint& fingerprint, LogicalKeyring keyring) const {
    for (const auto& rec : records) {
        if (rec.fingerprint == fingerprint && rec.keyring == keyring) return &rec;
    }
    return nullptr;
}

bool State::erase(const Fingerprint& fingerprint, LogicalKeyring keyring) {
    auto n = std::erase_if(records, [&](const Record& rec) {
        return rec.fingerprint == fingerprint && rec.keyring == keyring;
    });
    return n > 0;
}

void State::add_intent(const Intent& intent) {
    auto it = std::find_if(pending.begin(), pending.end(),
                           [&](const Intent& in) { return in.same_operation(intent); });
    if (it == pending.end()) {
        pending.push_back(intent);
    } else if (it->der.empty()) {
        it->der = intent.der;
    }
}

bool State::clear_intent(const Intent& intent) {
    return std::erase_if(pending, [&](const Intent& in) { return in.same_operation(intent); }) > 0;
}

StateStore::StateStore(std::filesystem::path dir)
    : dir_(std::move(dir)), file_(dir_ / "state.json"), journal_(dir_ / "state.journal") {}

StateStore::StateStore(StateStore&&) noexcept = default;
StateStore& StateStore::operator=(StateStore&&) noexcept = default;
StateStore::~StateStore() = default;

State StateStore::load() {
    disk_.reset();
    auto snapshot_file = read_file(file_, "state file");
    if (!snapshot_file) return State{};
    Snapshot snapshot = parse_state(file_, snapshot_file->text);
    if (snapshot.id.empty()) return std::move(snapshot.state);  // older: no journal continues it

    auto journal_file = read_file(journal_, "state journal");
    if (!journal_file) return std::move(snapshot.state);
    auto journal = replay_journal(journal_, journal_file->text, snapshot);
    if (journal.continues) {
        disk_ =
            std::make_unique<Disk>(snapshot.state, snapshot.id, snapshot_file->id,
                                   snapshot_file->text.size(), journal_file->id, journal.length);
    }
    return std::move(snapshot.state);
}

void StateStore::save(const State& state) {
    if (state.version != State::kVersion) {
        throw Error(ErrorCode::StateError,
                    "refusing to write state version " + std::to_string(state.version) +
                        "; this anchord writes version " + std::to_string(State::kVersion));
    }
    if (!swept_ && disk_) {
        remove_stale_temporaries(dir_);
        swept_ = true;
    }
    if (disk_ && id_of(file_) == disk_->snapshot) {
        if (auto changes = changes_to(disk_->known, state)) {
            if (changes->empty()) return;
            const auto line = journal_line(disk_->known, *changes, state);
            const auto limit = std::max(kJournalFloor, disk_->snapshot_size);
            if (disk_->journal_length + line.size() <= limit && append(line)) {
                disk_->known.apply(*changes, state);
                return;
            }
        }
    }
    save_whole(state);
}

// False when the journal is not the file this store knows (the next step
// writes the whole state instead); throws when the line cannot be written.
bool StateStore::append(std::string_view line) {
    auto& disk = *disk_;
    if (!disk.append_fd) {
        disk.append_fd.reset(::open(journal_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        if (!disk.append_fd) return false;
    }
    const int fd = disk.append_fd.get();
    struct stat st {};
    if (::fstat(fd, &st) != 0 || id_of(st) != disk.journal || st.st_nlink == 0 ||
        static_cast<std::uintmax_t>(st.st_size) < disk.journal_length) {
        return false;
    }
    // A line cut short by a crash: the next line must not continue it.
    if (static_cast<std::uintmax_t>(st.st_size) > disk.journal_length &&
        ::ftruncate(fd, static_cast<off_t>(disk.journal_length)) != 0) {
        return false;
    }
    auto fail = [&](const std::string& what, int err) {
        // Cut off what was written, so that the journal reads as before;
        // should even that fail, the next save writes everything anew.
        const bool restored = ::ftruncate(fd, static_cast<off_t>(disk.journal_length)) == 0;
        disk_.reset();
        return Error(ErrorCode::StateError,
                     "saving the state failed: " + what + " " + journal_.string() + ": " +
                         errno_text(err) + "; the state is " +
                         (restored ? "unchanged"
                                   : "unchanged unless the journal's last line "
                                     "survives a crash whole"));
    };
    if (!write_all(fd, line)) {
        int err = errno;
        throw fail("cannot append to", err);
    }
    if (::fdatasync(fd) != 0) {
        int err = errno;
        throw fail("cannot flush", err);
    }
    disk.journal_length += line.size();
    return true;
}

void StateStore::save_whole(const State& state) {
    const std::string id = new_snapshot_id();
    std::string text = serialize(state, id);
    if (text.size() > kMaxStateFileSize) {
        throw Error(ErrorCode::StateError,
                    "the state has grown to " + std::to_string(text.size()) +
                        " bytes, more than anchord would read back; not writing " + file_.string());
    }
    make_private_dir(dir_);
    if (!swept_) {
        remove_stale_temporaries(dir_);
        swept_ = true;
    }

    // The files are changing: until both are written, nothing is appended.
    disk_.reset();
    replace_file(dir_, file_, kTempPrefixes[0], text);
    // The old journal names the old snapshot and is ignored from here on,
    // so a crash before the new one is in place loses nothing.
    const std::string header = journal_header(id);
    try {
        replace_file(dir_, journal_, kTempPrefixes[1], header);
    } catch (const Error&) {
        return;  // the snapshot holds the whole state; the next save writes it again
    }
    auto snapshot_id = id_of(file_);
    auto journal_id = id_of(journal_);
    if (snapshot_id && journal_id) {
        disk_ = std::make_unique<Disk>(state, id, *snapshot_id, text.size(), *journal_id,
                                       header.size());
    }
}

}  // namespace anchord::state
