// One error enumeration for the whole project: daemon, client and policy
// library agree on it, so a code means the same thing on the bus, in the
// client's exit status and in a test assertion.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace anchord {

// The numeric values are stable: they are part of the JSON form and of logs.
enum class ErrorCode : std::uint8_t {
    InvalidCertificate = 1,  // bytes that are not a certificate we can read
    PolicyRejected = 2,      // the policy refused a certificate
    KernelRejected = 3,      // the kernel refused a link
    NotFound = 4,            // no such key, keyring or fingerprint
    Sealed = 5,              // the keyring is sealed
    AccessDenied = 6,        // the caller may not do this
    InvalidArgument = 7,     // an argument out of bounds or of the wrong form
    StateError = 8,          // the state store cannot be read or written
    InvalidPolicy = 9,       // a policy file that does not parse or validate
    Internal = 10,           // a bug or an unexpected failure of a library
};

// "InvalidCertificate", ...: the last part of the D-Bus error name.
std::string_view error_code_name(ErrorCode code) noexcept;
// "io.github.anchord1.Error.InvalidCertificate", ...
std::string dbus_error_name(ErrorCode code);
// The inverse of dbus_error_name; false when the name is not one of ours.
bool error_code_from_dbus_name(std::string_view name, ErrorCode& code) noexcept;

// anchorctl's exit status for a failure with this code (see anchorctl --help).
namespace exit_status {
inline constexpr int ok = 0;
inline constexpr int failed = 1;
inline constexpr int usage = 2;
inline constexpr int unreachable = 3;
inline constexpr int not_authorized = 4;
}  // namespace exit_status
int exit_status_for(ErrorCode code) noexcept;

// The one exception type that crosses module boundaries. Its message is for
// a person; tests and programs look at code().
class Error : public std::runtime_error {
  public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

  private:
    ErrorCode code_;
};

}  // namespace anchord
