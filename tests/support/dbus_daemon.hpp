// A private dbus-daemon for tests: its own configuration (every peer may
// connect, own any name and call anything), its own socket in a fresh
// directory, killed and cleaned up with the object. Tests point anchord, the
// client or a test peer at address(). dbus-daemon refuses a peer whose uid
// has no passwd entry (it looks up the uid's groups): a test that switches
// uid must pick an existing account (nobody, daemon).
#pragma once

#include <sys/types.h>

#include <string>

namespace anchord::testing {

class PrivateBus {
  public:
    // `extra_config` is inserted into <busconfig> (a <servicedir>, say).
    // Throws std::runtime_error when dbus-daemon cannot be started.
    explicit PrivateBus(const std::string& extra_config = "");
    ~PrivateBus();  // SIGTERM to dbus-daemon, reaped, directory removed
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    // "unix:path=/tmp/anchord-bus.XXXXXX/bus,guid=..."
    const std::string& address() const { return address_; }
    // The directory holding the socket and the configuration (mode 0755, so
    // that a test peer running as another uid can connect).
    const std::string& dir() const { return dir_; }
    pid_t pid() const { return pid_; }

  private:
    std::string dir_;
    std::string address_;
    pid_t pid_ = -1;
};

}  // namespace anchord::testing
