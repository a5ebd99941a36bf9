#include "keyring/keyctl.hpp"

#include <keyutils.h>
#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace anchord::keyring::sys {
namespace {

struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

template <typename T>
bool parse_number(std::string_view text, T& out, int base = 10) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc() && end == text.data() + text.size();
}

std::string_view next_field(std::string_view& text, char separator) {
    auto pos = text.find(separator);
    std::string_view field = text.substr(0, pos);
    text = pos == std::string_view::npos ? std::string_view() : text.substr(pos + 1);
    return field;
}

std::string_view next_token(std::string_view& text) {
    auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        text = {};
        return {};
    }
    text.remove_prefix(start);
    auto end = text.find(' ');
    std::string_view token = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end);
    return token;
}

bool is_hex(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

}  // namespace

std::optional<Description> parse_description(std::string_view raw) {
    // The description itself may hold ';', so only the first four split.
    Description d;
    std::string_view rest = raw;
    if (rest.find(';') == std::string_view::npos) return std::nullopt;
    d.type = std::string(next_field(rest, ';'));
    if (!parse_number(next_field(rest, ';'), d.uid)) return std::nullopt;
    if (!parse_number(next_field(rest, ';'), d.gid)) return std::nullopt;
    if (!parse_number(next_field(rest, ';'), d.permissions, 16)) return std::nullopt;
    d.description = std::string(rest);
    return d;
}

int try_describe(KeySerial key, Description& out) {
    char* raw = nullptr;
    if (keyctl_describe_alloc(key.value, &raw) < 0) return errno;
    std::unique_ptr<char, FreeDeleter> owned(raw);
    auto parsed = parse_description(raw);
    if (!parsed) return EBADMSG;
    out = std::move(*parsed);
    return 0;
}

Description describe(KeySerial key, const std::string& context) {
    Description d;
    if (int err = try_describe(key, d)) throw kernel_error(err, context, KernelCall::Other);
    return d;
}

std::vector<KeySerial> read_keyring(KeySerial ring, const std::string& context) {
    // keyctl_read_alloc re-reads until the buffer holds the whole keyring,
    // so a keyring that grows meanwhile is still read whole.
    void* raw = nullptr;
    long size = keyctl_read_alloc(ring.value, &raw);
    if (size < 0) throw kernel_error(errno, context, KernelCall::Other);
    std::unique_ptr<void, FreeDeleter> owned(raw);
    std::vector<KeySerial> out;
    auto count = static_cast<std::size_t>(size) / sizeof(key_serial_t);
    const auto* serials = static_cast<const key_serial_t*>(raw);
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(KeySerial{serials[i]});
    return out;
}

KeySerial new_keyring(const std::string& name, KeySerial parent) {
    key_serial_t id = ::add_key("keyring", name.c_str(), nullptr, 0, parent.value);
    if (id < 0) throw kernel_error(errno, "creating keyring " + name, KernelCall::Other);
    return KeySerial{id};
}

std::int64_t add_key(const char* type, const char* description, ByteView payload, KeySerial ring) {
    key_serial_t id = ::add_key(type, description, payload.empty() ? nullptr : payload.data(),
                                payload.size(), ring.value);
    return id < 0 ? -static_cast<std::int64_t>(errno) : id;
}

void link(KeySerial key, KeySerial ring, const std::string& context) {
    if (keyctl_link(key.value, ring.value) < 0)
        throw kernel_error(errno, context, KernelCall::Other);
}

int try_restrict(KeySerial ring, const Restriction& restriction) {
    long rc = 0;
    if (restriction.kind == Restriction::Kind::Sealed) {
        rc = keyctl_restrict_keyring(ring.value, nullptr, nullptr);
    } else {
        rc = keyctl_restrict_keyring(ring.value, "asymmetric", restriction.to_string().c_str());
    }
    return rc < 0 ? errno : 0;
}

void set_permissions(KeySerial key, std::uint32_t permissions, const std::string& context) {
    if (keyctl_setperm(key.value, permissions) < 0) {
        throw kernel_error(errno, context, KernelCall::Other);
    }
}

std::optional<KeySerial> search(KeySerial ring, const char* type, const std::string& description) {
    long id = keyctl_search(ring.value, type, description.c_str(), 0);
    if (id < 0) return std::nullopt;
    return KeySerial{static_cast<std::int32_t>(id)};
}

std::vector<ProcKey> parse_proc_keys(std::string_view text) {
    // "%08x %c%c%c%c%c%c%c %5d %4s %08x %5d %5d %-9.9s " then the summary.
    std::vector<ProcKey> out;
    while (!text.empty()) {
        std::string_view line = next_field(text, '\n');
        ProcKey k;
        std::string_view serial = next_token(line);
        std::string_view flags = next_token(line);
        std::string_view usage = next_token(line);
        std::string_view expiry = next_token(line);
        std::string_view perm = next_token(line);
        std::string_view uid = next_token(line);
        std::string_view gid = next_token(line);
        std::string_view type = next_token(line);
        std::uint32_t serial_value = 0;
        int usage_value = 0;
        if (type.empty() || !parse_number(serial, serial_value, 16) ||
            !parse_number(usage, usage_value) || expiry.empty() ||
            !parse_number(perm, k.permissions, 16)) {
            continue;
        }
        // A key owned by an unmapped id shows as -1; such keys are never ours.
        if (!parse_number(uid, k.uid) || !parse_number(gid, k.gid)) continue;
        k.serial = KeySerial{static_cast<std::int32_t>(serial_value)};
        k.flags = std::string(flags);
        k.type = std::string(type);
        // The type column is padded to 9 characters, then one space.
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        auto pad = line.find_first_not_of(' ');
        k.rest = pad == std::string_view::npos ? std::string() : std::string(line.substr(pad));
        out.push_back(std::move(k));
    }
    return out;
}

std::vector<ProcKey> read_proc_keys() {
    auto text = read_text_file("/proc/keys");
    return text ? parse_proc_keys(*text) : std::vector<ProcKey>{};
}

std::optional<KeySerial> find_keyring(const std::vector<ProcKey>& keys, std::string_view name,
                                      std::uint32_t uid) {
    for (const auto& k : keys) {
        if (k.type != "keyring" || k.uid != uid) continue;
        // A keyring's summary is "<name>: empty" or "<name>: <count>".
        auto colon = k.rest.rfind(": ");
        if (colon != std::string::npos && std::string_view(k.rest).substr(0, colon) == name) {
            return k.serial;
        }
    }
    return std::nullopt;
}

std::optional<Bytes> subject_key_id(std::string_view description, std::string_view proc_rest) {
    auto colon = description.rfind(": ");
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view hex = description.substr(colon + 2);
    if (!is_hex(hex)) return std::nullopt;
    if (!proc_rest.empty()) {
        // The summary after the description: ": X509.rsa 3b42fcc0 []", the
        // hex only when the key has a SKID.
        if (!proc_rest.starts_with(description)) return std::nullopt;
        std::string_view summary = proc_rest.substr(description.size());
        if (summary.starts_with(": ")) summary.remove_prefix(2);
        next_token(summary);  // "X509.rsa"
        std::string_view tail = next_token(summary);
        if (!is_hex(tail) || tail.size() > hex.size()) return std::nullopt;
        std::string lower_hex(hex), lower_tail(tail);
        for (auto& c : lower_hex)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (auto& c : lower_tail)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!std::string_view(lower_hex).ends_with(lower_tail)) return std::nullopt;
    }
    return from_hex(hex);
}

std::optional<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return out.str();
}

std::optional<KernelConfigText> read_kernel_config_text(std::string_view release) {
    struct GzCloser {
        void operator()(gzFile_s* f) const noexcept { gzclose(f); }
    };
    if (std::unique_ptr<gzFile_s, GzCloser> gz(gzopen("/proc/config.gz", "rb")); gz) {
        std::string text;
        char buffer[16384];
        int n = 0;
        while ((n = gzread(gz.get(), buffer, sizeof buffer)) > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
        }
        if (n == 0 && !text.empty()) return KernelConfigText{std::move(text), "/proc/config.gz"};
    }
    std::string path = "/boot/config-" + std::string(release);
    if (auto text = read_text_file(path)) return KernelConfigText{std::move(*text), path};
    return std::nullopt;
}

}  // namespace anchord::keyring::sys
