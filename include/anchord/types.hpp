// Small named value types shared by the policy library, the daemon and the
// client, so that a fingerprint is never confused with a TBS hash or a
// keyring name with a free-form string.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace anchord {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Bytes that never change once made, shared by every copy instead of
// copied: a certificate's DER is held once by its decoded certificate, its
// record and the record's copies in each state a change saves.
class SharedBytes {
  public:
    SharedBytes() = default;
    // Implicit: a record or an intent is given its bytes as any Bytes.
    SharedBytes(Bytes bytes) : bytes_(std::make_shared<const Bytes>(std::move(bytes))) {}

    const Bytes& bytes() const noexcept { return bytes_ ? *bytes_ : none(); }
    operator const Bytes&() const noexcept { return bytes(); }
    operator ByteView() const noexcept { return bytes(); }
    const std::uint8_t* data() const noexcept { return bytes().data(); }
    std::size_t size() const noexcept { return bytes().size(); }
    bool empty() const noexcept { return bytes().empty(); }
    Bytes::const_iterator begin() const noexcept { return bytes().begin(); }
    Bytes::const_iterator end() const noexcept { return bytes().end(); }

    friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
        return a.bytes_ == b.bytes_ || a.bytes() == b.bytes();
    }
    friend bool operator==(const SharedBytes& a, const Bytes& b) { return a.bytes() == b; }

  private:
    static const Bytes& none() noexcept {
        static const Bytes empty;
        return empty;
    }
    std::shared_ptr<const Bytes> bytes_;
};

std::string to_hex(ByteView bytes);
// Accepts upper or lower case; nullopt on odd length or a non-hex digit.
std::optional<Bytes> from_hex(std::string_view hex);

// A SHA-256 digest: of a certificate's DER (its fingerprint) or of its TBS
// part (what the kernel's .blacklist keeps as "tbs:HEX").
struct Sha256 {
    std::array<std::uint8_t, 32> bytes{};

    static Sha256 of(ByteView data);
    // Accepts "HEX", "sha256:HEX" and colon-separated "AB:CD:...".
    static std::optional<Sha256> parse(std::string_view text);
    std::string hex() const;
    // One memcmp: the defaulted comparison went byte by byte, and digests
    // key every map of certificates and keys the daemon keeps.
    std::strong_ordering operator<=>(const Sha256& other) const noexcept {
        return std::memcmp(bytes.data(), other.bytes.data(), bytes.size()) <=> 0;
    }
    bool operator==(const Sha256& other) const noexcept {
        return std::memcmp(bytes.data(), other.bytes.data(), bytes.size()) == 0;
    }
};

// The SHA-256 of a certificate's DER; printed as "sha256:HEX".
struct Fingerprint {
    Sha256 digest;

    static Fingerprint of_der(ByteView der) { return {Sha256::of(der)}; }
    static std::optional<Fingerprint> parse(std::string_view text);
    std::string to_string() const { return "sha256:" + digest.hex(); }
    auto operator<=>(const Fingerprint&) const = default;
};

// The logical keyrings of anchord's model; each maps to a kernel keyring
// (".ima", "_ima", or one of the sandbox's) through the policy.
enum class LogicalKeyring : std::uint8_t { Builtin, Secondary, Machine, Platform, Ima, Evm };

inline constexpr std::array<LogicalKeyring, 6> kAllLogicalKeyrings{
    LogicalKeyring::Builtin,  LogicalKeyring::Secondary, LogicalKeyring::Machine,
    LogicalKeyring::Platform, LogicalKeyring::Ima,       LogicalKeyring::Evm};

std::string_view to_string(LogicalKeyring keyring) noexcept;  // "builtin", ...
std::optional<LogicalKeyring> parse_logical_keyring(std::string_view name) noexcept;

// A kernel key serial (key_serial_t). Strong so that it cannot be mixed up
// with a count, a uid or an errno.
struct KeySerial {
    std::int32_t value = 0;
    auto operator<=>(const KeySerial&) const = default;
};

}  // namespace anchord

// Digests key the daemon's hash tables of certificates and keys. A SHA-256
// is uniform: eight of its bytes are as good a hash as any computed from
// all of them.
template <>
struct std::hash<anchord::Sha256> {
    std::size_t operator()(const anchord::Sha256& d) const noexcept {
        std::size_t h;
        std::memcpy(&h, d.bytes.data(), sizeof h);
        return h;
    }
};

template <>
struct std::hash<anchord::Fingerprint> {
    std::size_t operator()(const anchord::Fingerprint& f) const noexcept {
        return std::hash<anchord::Sha256>{}(f.digest);
    }
};
