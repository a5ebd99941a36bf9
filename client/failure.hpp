// How a command ends when it cannot do what was asked: an error name a
// program can test, a message a person can act on, and the exit status.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "anchord/error.hpp"

namespace anchorctl {

// Names of the failures anchorctl finds itself, beside the D-Bus error names
// it passes on (io.github.anchord1.Error.*, org.freedesktop.DBus.Error.*).
namespace client_error {
inline constexpr std::string_view usage = "anchorctl.Error.Usage";
inline constexpr std::string_view file = "anchorctl.Error.File";
inline constexpr std::string_view bad_reply = "anchorctl.Error.BadReply";
inline constexpr std::string_view not_found = "anchorctl.Error.NotFound";
inline constexpr std::string_view internal = "anchorctl.Error.Internal";
}  // namespace client_error

class Failure : public std::runtime_error {
  public:
    Failure(int exit_status, std::string_view name, const std::string& message)
        : std::runtime_error(message), exit_status_(exit_status), name_(name) {}

    int exit_status() const noexcept { return exit_status_; }
    const std::string& name() const noexcept { return name_; }
    // The anchord error code, when the name is one of io.github.anchord1.Error.*.
    std::optional<anchord::ErrorCode> code() const noexcept {
        anchord::ErrorCode c{};
        if (anchord::error_code_from_dbus_name(name_, c)) return c;
        return std::nullopt;
    }

  private:
    int exit_status_;
    std::string name_;
};

inline Failure usage_failure(const std::string& message) {
    return Failure(anchord::exit_status::usage, client_error::usage, message);
}
inline Failure bad_reply(const std::string& message) {
    return Failure(anchord::exit_status::failed, client_error::bad_reply,
                   "anchord sent a reply anchorctl does not understand: " + message);
}

}  // namespace anchorctl
