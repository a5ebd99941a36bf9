#include "state/state_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

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
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

std::string errno_text(int err) {
    return std::strerror(err);
}

// Strict base64 (RFC 4648, with padding, no whitespace): the state file is
// written by us, so anything else is corruption and must be reported.
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(ByteView data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        std::uint32_t v = data[i] << 16 | data[i + 1] << 8 | data[i + 2];
        out.push_back(kBase64Alphabet[v >> 18 & 63]);
        out.push_back(kBase64Alphabet[v >> 12 & 63]);
        out.push_back(kBase64Alphabet[v >> 6 & 63]);
        out.push_back(kBase64Alphabet[v & 63]);
    }
    std::size_t rest = data.size() - i;
    if (rest > 0) {
        std::uint32_t v = data[i] << 16 | (rest == 2 ? data[i + 1] << 8 : 0);
        out.push_back(kBase64Alphabet[v >> 18 & 63]);
        out.push_back(kBase64Alphabet[v >> 12 & 63]);
        out.push_back(rest == 2 ? kBase64Alphabet[v >> 6 & 63] : '=');
        out.push_back('=');
    }
    return out;
}

int base64_value(char c) noexcept {
    auto pos = kBase64Alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

std::optional<Bytes> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') {
        ++padding;
        if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
    }
    Bytes out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        std::array<int, 4> v{};
        for (std::size_t j = 0; j < 4; ++j) {
            char c = text[i + j];
            if (c == '=' && last && j >= 4 - padding) {
                v[j] = 0;
                continue;
            }
            v[j] = base64_value(c);
            if (v[j] < 0) return std::nullopt;
        }
        std::uint32_t word = static_cast<std::uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        out.push_back(static_cast<std::uint8_t>(word >> 16));
        if (!last || padding < 2) out.push_back(static_cast<std::uint8_t>(word >> 8 & 0xff));
        if (!last || padding < 1) out.push_back(static_cast<std::uint8_t>(word & 0xff));
        // Non-canonical encodings (bits set in the padding) are not ours.
        if (last && padding > 0 && (word & (padding == 2 ? 0xffff : 0xff)) != 0)
            return std::nullopt;
    }
    return out;
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
    explicit Reader(const fs::path& file) : file_(file) {}

    [[noreturn]] void fail(const std::string& pointer, const std::string& what) const {
        std::string where = pointer.empty() ? "" : " at " + pointer;
        throw Error(ErrorCode::StateError,
                    "state file " + file_.string() + ": " + what + where +
                        ". anchord leaves the file untouched and will not start with it: "
                        "move it away (for example to " +
                        file_.string() + ".bad) to start with an empty state, or restore a backup");
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
};

// A certificate's DER in base64 that must hash to `fingerprint`.
Bytes read_der(const Reader& r, const json& value, const std::string& ptr,
               const Fingerprint& fingerprint, const char* owner) {
    const auto& text = r.string(value, ptr);
    auto der = base64_decode(text);
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

State parse_state(const fs::path& file, const std::string& text) {
    Reader r(file);
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        r.fail("", std::string("not valid JSON (") + e.what() + ")");
    }
    r.object(doc, "");

    State s;
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

    if (auto it = doc.find("sealed"); it != doc.end()) {
        r.array(*it, "/sealed");
        for (std::size_t i = 0; i < it->size(); ++i) {
            s.sealed.insert(r.keyring((*it)[i], "/sealed/" + std::to_string(i)));
        }
    }

    if (auto it = doc.find("pending"); it != doc.end()) {
        r.array(*it, "/pending");
        for (std::size_t i = 0; i < it->size(); ++i) {
            s.add_intent(read_intent(r, (*it)[i], "/pending/" + std::to_string(i),
                                     static_cast<int>(file_version)));
        }
    }
    return s;
}

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

// The document is written by hand, not built as a json value: with a
// thousand records, building and dumping that value cost more than writing
// and flushing the file, and the state is saved twice per change.
std::string serialize(const State& s) {
    std::size_t estimate = 128;
    for (const auto& rec : s.records) estimate += 256 + rec.source.size() + rec.der.size() * 4 / 3;
    for (const auto& in : s.pending) estimate += 192 + in.der.size() * 4 / 3;
    std::string out;
    out.reserve(estimate);

    out += "{\n  \"version\": ";
    out += std::to_string(s.version);
    out += ",\n  \"records\": [";
    const char* separator = "\n    {";
    for (const auto& rec : s.records) {
        out += separator;
        separator = ",\n    {";
        append_plain(out, "fingerprint", rec.fingerprint.to_string());
        out += ", ";
        append_plain(out, "keyring", to_string(rec.keyring));
        out += ", ";
        append_plain(out, "origin", to_string(rec.origin));
        out += ", \"source\": ";
        append_json_string(out, rec.source);
        out += ", ";
        append_plain(out, "enrolled_at", format_timestamp(rec.enrolled_at));
        out += ", \"caller_uid\": ";
        out += std::to_string(rec.caller_uid);
        out += ",\n     ";
        append_plain(out, "der", base64_encode(rec.der));
        out += '}';
    }
    out += s.records.empty() ? "]" : "\n  ]";

    out += ",\n  \"sealed\": [";
    separator = "";
    for (auto k : s.sealed) {
        out += separator;
        separator = ", ";
        out += '"';
        out += to_string(k);
        out += '"';
    }
    out += "]";

    out += ",\n  \"pending\": [";
    separator = "\n    {";
    for (const auto& in : s.pending) {
        out += separator;
        separator = ",\n    {";
        append_plain(out, "fingerprint", in.fingerprint.to_string());
        out += ", ";
        append_plain(out, "keyring", to_string(in.keyring));
        out += ", ";
        append_plain(out, "action", to_string(in.action));
        if (!in.der.empty()) {
            out += ",\n     ";
            append_plain(out, "der", base64_encode(in.der));
        }
        out += '}';
    }
    out += s.pending.empty() ? "]" : "\n  ]";
    out += "\n}\n";
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

// save() writes here first; mkostemp replaces the six X.
constexpr std::string_view kTempPrefix = ".state.json.";

// A save interrupted between mkostemp and rename (SIGKILL, power loss)
// leaves its temporary file behind, as large as the state: removed by the
// next save. One anchord owns a state directory, so none is in use.
void remove_stale_temporaries(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.size() == kTempPrefix.size() + 6 && name.starts_with(kTempPrefix) &&
            it->is_regular_file(ec)) {
            ::unlink(it->path().c_str());
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

}  // namespace

// ---------------------------------------------------------------------------

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
    : dir_(std::move(dir)), file_(dir_ / "state.json") {}

State StateStore::load() const {
    UniqueFd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        int err = errno;
        if (err == ENOENT) return State{};
        throw Error(ErrorCode::StateError,
                    "cannot open the state file " + file_.string() + ": " + errno_text(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        int err = errno;
        throw Error(ErrorCode::StateError,
                    "cannot stat the state file " + file_.string() + ": " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(ErrorCode::StateError,
                    "the state file " + file_.string() + " is not a regular file; move it away");
    }
    auto too_big = [&] {
        return Error(ErrorCode::StateError, "the state file " + file_.string() +
                                                " is larger than " +
                                                std::to_string(kMaxStateFileSize / (1024 * 1024)) +
                                                " MiB and cannot be anchord's; move it away");
    };
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxStateFileSize) throw too_big();

    // Read to EOF rather than trusting st_size: the bound holds even if the
    // file grows while we read.
    std::string text;
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            throw Error(ErrorCode::StateError,
                        "cannot read the state file " + file_.string() + ": " + errno_text(err));
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxStateFileSize) throw too_big();
    }
    return parse_state(file_, text);
}

void StateStore::save(const State& state) {
    if (state.version != State::kVersion) {
        throw Error(ErrorCode::StateError,
                    "refusing to write state version " + std::to_string(state.version) +
                        "; this anchord writes version " + std::to_string(State::kVersion));
    }
    std::string text = serialize(state);
    if (text.size() > kMaxStateFileSize) {
        throw Error(ErrorCode::StateError,
                    "the state has grown to " + std::to_string(text.size()) +
                        " bytes, more than anchord would read back; not writing " + file_.string());
    }
    make_private_dir(dir_);
    remove_stale_temporaries(dir_);

    std::string temp = (dir_ / (std::string(kTempPrefix) + "XXXXXX")).string();
    UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd) {
        int err = errno;
        throw Error(ErrorCode::StateError, "cannot create a temporary state file in " +
                                               dir_.string() + ": " + errno_text(err));
    }
    // Every failure from here removes the temp file, so the directory holds
    // only the old state.json afterwards.
    auto fail = [&](const std::string& what, int err) {
        fd.reset();
        ::unlink(temp.c_str());
        return Error(ErrorCode::StateError, "saving the state failed: " + what + ": " +
                                                errno_text(err) + "; " + file_.string() +
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
    if (::rename(temp.c_str(), file_.c_str()) != 0) {
        int err = errno;
        throw fail("cannot rename " + temp + " to " + file_.string(), err);
    }

    // The rename is durable only once the directory entry is.
    UniqueFd dirfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd || ::fsync(dirfd.get()) != 0) {
        int err = errno;
        throw Error(ErrorCode::StateError, "the new state is in " + file_.string() +
                                               " but flushing its directory failed (" +
                                               errno_text(err) +
                                               "); it may not survive a power loss");
    }
}

}  // namespace anchord::state
