#include "anchord/types.hpp"

#include <algorithm>
#include <utility>

namespace anchord {

std::string to_hex(ByteView bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0f]);
    }
    return out;
}

namespace {
int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::optional<Bytes> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    Bytes out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]);
        int lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    }
    return out;
}

std::optional<Sha256> Sha256::parse(std::string_view text) {
    if (text.starts_with("sha256:")) text.remove_prefix(7);
    std::string compact;
    compact.reserve(text.size());
    for (char c : text) {
        if (c != ':') compact.push_back(c);
    }
    auto bytes = from_hex(compact);
    if (!bytes || bytes->size() != 32) return std::nullopt;
    Sha256 d;
    std::copy(bytes->begin(), bytes->end(), d.bytes.begin());
    return d;
}

std::string Sha256::hex() const {
    return to_hex(bytes);
}

std::optional<Fingerprint> Fingerprint::parse(std::string_view text) {
    auto d = Sha256::parse(text);
    if (!d) return std::nullopt;
    return Fingerprint{*d};
}

namespace {
constexpr std::array<std::pair<LogicalKeyring, std::string_view>, 6> kKeyringNames{{
    {LogicalKeyring::Builtin, "builtin"},
    {LogicalKeyring::Secondary, "secondary"},
    {LogicalKeyring::Machine, "machine"},
    {LogicalKeyring::Platform, "platform"},
    {LogicalKeyring::Ima, "ima"},
    {LogicalKeyring::Evm, "evm"},
}};
}  // namespace

std::string_view to_string(LogicalKeyring keyring) noexcept {
    for (const auto& [k, name] : kKeyringNames) {
        if (k == keyring) return name;
    }
    return "?";
}

std::optional<LogicalKeyring> parse_logical_keyring(std::string_view name) noexcept {
    for (const auto& [k, n] : kKeyringNames) {
        if (n == name) return k;
    }
    return std::nullopt;
}

}  // namespace anchord
