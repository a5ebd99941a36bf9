#include "service/arguments.hpp"

#include <string>

#include "anchord/bus_api.hpp"
#include "anchord/error.hpp"

namespace anchord::service::arguments {

namespace {

constexpr std::string_view kBeginLine = "-----BEGIN ";

std::string known_options() {
    return std::string("the options are \"") + bus_api::kPartialOption + "\" and \"" +
           bus_api::kBriefOption + "\"";
}

// As read_bundle decides: a SEQUENCE tag with a long-form length is one DER
// certificate, whatever bytes it carries inside.
bool is_der(ByteView bytes) {
    return bytes.size() >= 2 && bytes[0] == 0x30 && (bytes[1] & 0x80) != 0;
}

// The PEM blocks a text opens: lines starting "-----BEGIN ". Each is a
// position of its own for the reader, so this never counts more than it.
std::size_t begin_lines(std::string_view text, std::size_t stop_after) {
    std::size_t count = 0;
    for (std::size_t pos = text.find(kBeginLine); pos != std::string_view::npos;
         pos = text.find(kBeginLine, pos + kBeginLine.size())) {
        if (pos != 0 && text[pos - 1] != '\n') continue;
        if (++count > stop_after) break;
    }
    return count;
}

}  // namespace

void check_bundle(ByteView certificates) {
    if (certificates.size() > kMaxBundleBytes) {
        throw Error(ErrorCode::InvalidArgument,
                    "the certificates sent are too large (" + std::to_string(certificates.size()) +
                        " bytes, at most " + std::to_string(kMaxBundleBytes) + ")");
    }
    if (is_der(certificates)) return;
    const std::string_view text(reinterpret_cast<const char*>(certificates.data()),
                                certificates.size());
    if (begin_lines(text, kMaxBundleCertificates) > kMaxBundleCertificates) {
        throw Error(ErrorCode::InvalidArgument,
                    "the certificates sent hold more than " +
                        std::to_string(kMaxBundleCertificates) + " PEM blocks (at most " +
                        std::to_string(kMaxBundleCertificates) + " certificates per call)");
    }
}

LogicalKeyring keyring_name(std::string_view name) {
    return manager::parse_keyring_argument(name);
}

Fingerprint fingerprint(std::string_view text) {
    return manager::parse_fingerprint_argument(text);
}

manager::EnrollOptions enroll_options(std::span<const OptionArgument> options) {
    if (options.size() > kMaxOptions) {
        throw Error(ErrorCode::InvalidArgument,
                    "too many options (" + std::to_string(options.size()) + ", at most " +
                        std::to_string(kMaxOptions) + "): " + known_options());
    }
    manager::EnrollOptions out;
    for (const auto& option : options) {
        bool* value = option.key == bus_api::kPartialOption ? &out.partial
                      : option.key == bus_api::kBriefOption ? &out.brief
                                                            : nullptr;
        if (!value) {
            throw Error(
                ErrorCode::InvalidArgument,
                "unknown option " + manager::quote_argument(option.key) + ": " + known_options());
        }
        if (option.type != "b" || !option.boolean) {
            throw Error(ErrorCode::InvalidArgument, "option \"" + option.key +
                                                        "\" must be a boolean (b), not " +
                                                        manager::quote_argument(option.type));
        }
        *value = *option.boolean;
    }
    return out;
}

VerifyArguments check_verify(ByteView certificates, std::string_view keyring) {
    check_bundle(certificates);
    return {keyring_name(keyring)};
}

EnrollArguments check_enroll(ByteView certificates, std::string_view keyring,
                             std::span<const OptionArgument> options) {
    check_bundle(certificates);
    auto k = keyring_name(keyring);
    return {k, enroll_options(options)};
}

RemoveArguments check_remove(std::string_view fingerprint_text, std::string_view keyring) {
    auto fp = fingerprint(fingerprint_text);
    return {fp, keyring_name(keyring)};
}

LogicalKeyring check_seal(std::string_view keyring) {
    return keyring_name(keyring);
}

}  // namespace anchord::service::arguments
