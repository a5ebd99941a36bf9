// The benchmark's D-Bus client of anchord (io.github.anchord1.xml), over
// sdbus-c++ as any client would be.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "anchord/sdbus.hpp"
#include "anchord/types.hpp"

namespace anchord::bench {

class Client {
  public:
    explicit Client(const std::string& bus_address);

    // Enroll(bundle, keyring, {} or {"brief": true}); throws
    // std::runtime_error unless every certificate of the bundle was
    // accepted. Returns how many were.
    std::size_t enroll(const Bytes& bundle, const std::string& keyring, bool brief = false);
    // The Keys property of /io/github/anchord1/keyring/<keyring>; its size.
    std::size_t read_keys(const std::string& keyring);
    // org.freedesktop.DBus.ObjectManager.GetManagedObjects on the root;
    // the number of keys all keyring objects list.
    std::size_t managed_objects();
    std::string version();
    // Whether io.github.anchord1 has an owner now.
    bool name_owned();

  private:
    sdbus::IProxy& keyring_proxy(const std::string& keyring);

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> root_;
    std::unique_ptr<sdbus::IProxy> driver_;
    std::vector<std::pair<std::string, std::unique_ptr<sdbus::IProxy>>> keyrings_;
};

}  // namespace anchord::bench
