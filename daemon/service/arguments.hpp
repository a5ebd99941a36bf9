// The checks each bus method applies to its arguments on the bus thread,
// before any work is queued and before the caller is authorized: bounds on
// what a caller may send (bundle bytes, certificate count, string lengths),
// names that must be keyring names or fingerprints, and Enroll's options.
// Plain values in, plain values out, so that ManagerObject and the D-Bus
// fuzzer (fuzz/fuzz_dbus.cpp) run the very same checks. Every refusal is
// Error(InvalidArgument) quoting the bad value, bounded and printable.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "anchord/certificate.hpp"
#include "anchord/types.hpp"
#include "manager/manager.hpp"

namespace anchord::service::arguments {

// The bus delivers messages of up to 128 MiB; anchord takes far less.
inline constexpr std::size_t kMaxBundleBytes = ReadLimits{}.max_bytes;
inline constexpr std::size_t kMaxBundleCertificates = ReadLimits{}.max_certificates;
inline constexpr std::size_t kMaxOptions = 16;

// One entry of an a{sv} options argument, as plain values.
struct OptionArgument {
    std::string key;
    std::string type;             // the D-Bus signature of the value: "b", "s", "a{sv}", ...
    std::optional<bool> boolean;  // the value, when `type` is "b"
};

// Verify(ay certificates, s keyring)
struct VerifyArguments {
    LogicalKeyring keyring;
};
VerifyArguments check_verify(ByteView certificates, std::string_view keyring);

// Enroll(ay certificates, s keyring, a{sv} options)
struct EnrollArguments {
    LogicalKeyring keyring;
    manager::EnrollOptions options;
};
EnrollArguments check_enroll(ByteView certificates, std::string_view keyring,
                             std::span<const OptionArgument> options);

// Remove(s fingerprint, s keyring)
struct RemoveArguments {
    Fingerprint fingerprint;
    LogicalKeyring keyring;
};
RemoveArguments check_remove(std::string_view fingerprint, std::string_view keyring);

// Seal(s keyring)
LogicalKeyring check_seal(std::string_view keyring);

// The parts the methods are made of.

// At most kMaxBundleBytes, and not more certificates than the reader takes.
// The count is a lower bound read cheaply (the PEM blocks' BEGIN lines), so
// a bundle refused here would be refused by read_bundle too: the worker is
// spared a bundle that can only fail.
void check_bundle(ByteView certificates);
// A logical keyring's name ("ima"); anything else, paths included, refused.
LogicalKeyring keyring_name(std::string_view name);
// "sha256:" and 64 hexadecimal digits.
Fingerprint fingerprint(std::string_view text);
// Known keys with the right types: "partial" (b).
manager::EnrollOptions enroll_options(std::span<const OptionArgument> options);

}  // namespace anchord::service::arguments
