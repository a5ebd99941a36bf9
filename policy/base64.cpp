#include "anchord/base64.hpp"

namespace anchord::base64 {

std::string encode(ByteView data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        std::uint32_t v = data[i] << 16 | data[i + 1] << 8 | data[i + 2];
        out.push_back(kAlphabet[v >> 18 & 63]);
        out.push_back(kAlphabet[v >> 12 & 63]);
        out.push_back(kAlphabet[v >> 6 & 63]);
        out.push_back(kAlphabet[v & 63]);
    }
    std::size_t rest = data.size() - i;
    if (rest > 0) {
        std::uint32_t v = data[i] << 16 | (rest == 2 ? data[i + 1] << 8 : 0);
        out.push_back(kAlphabet[v >> 18 & 63]);
        out.push_back(kAlphabet[v >> 12 & 63]);
        out.push_back(rest == 2 ? kAlphabet[v >> 6 & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<Bytes> decode(std::string_view text) {
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
            v[j] = value(c);
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

}  // namespace anchord::base64
