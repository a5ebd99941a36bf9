// Base64 (RFC 4648 section 4, the standard alphabet) for the state file and
// for PEM. One table serves both: the daemon decodes every record's
// certificate at start, and every PEM bundle a caller sends.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "anchord/types.hpp"

namespace anchord::base64 {

inline constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// A table, not a search of the alphabet: decoding is a loop over every
// character, and a search cost more than the rest of reading the state.
inline constexpr std::array<std::int8_t, 256> kValues = [] {
    std::array<std::int8_t, 256> values{};
    values.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i)
        values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
    return values;
}();

// 0-63, or -1 for a character outside the alphabet ('=' and whitespace
// included).
constexpr int value(char c) noexcept {
    return kValues[static_cast<unsigned char>(c)];
}

// With '=' padding, no line breaks.
std::string encode(ByteView data);

// Strict: a multiple of 4 characters, padding only at the end, zero padding
// bits, nothing outside the alphabet (no whitespace). nullopt otherwise.
std::optional<Bytes> decode(std::string_view text);

}  // namespace anchord::base64
