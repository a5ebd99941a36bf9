#include "anchord/error.hpp"

#include <array>
#include <utility>

namespace anchord {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 10> kNames{{
    {ErrorCode::InvalidCertificate, "InvalidCertificate"},
    {ErrorCode::PolicyRejected, "PolicyRejected"},
    {ErrorCode::KernelRejected, "KernelRejected"},
    {ErrorCode::NotFound, "NotFound"},
    {ErrorCode::Sealed, "Sealed"},
    {ErrorCode::AccessDenied, "AccessDenied"},
    {ErrorCode::InvalidArgument, "InvalidArgument"},
    {ErrorCode::StateError, "StateError"},
    {ErrorCode::InvalidPolicy, "InvalidPolicy"},
    {ErrorCode::Internal, "Internal"},
}};

constexpr std::string_view kPrefix = "io.github.anchord1.Error.";

}  // namespace

std::string_view error_code_name(ErrorCode code) noexcept {
    for (const auto& [c, name] : kNames) {
        if (c == code) return name;
    }
    return "Internal";
}

std::string dbus_error_name(ErrorCode code) {
    return std::string(kPrefix) + std::string(error_code_name(code));
}

bool error_code_from_dbus_name(std::string_view name, ErrorCode& code) noexcept {
    if (!name.starts_with(kPrefix)) return false;
    name.remove_prefix(kPrefix.size());
    for (const auto& [c, n] : kNames) {
        if (n == name) {
            code = c;
            return true;
        }
    }
    return false;
}

int exit_status_for(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::AccessDenied:
            return exit_status::not_authorized;
        case ErrorCode::InvalidArgument:
            return exit_status::usage;
        default:
            return exit_status::failed;
    }
}

}  // namespace anchord
