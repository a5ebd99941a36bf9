// anchorctl's one way to anchord: the connection to the bus, the calls of
// io.github.anchord1 over the proxy generated from the XML, and the mapping
// of every D-Bus error to a Failure with anchorctl's exit status.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "anchord/types.hpp"
#include "failure.hpp"
#include "model.hpp"

namespace sdbus {
class IConnection;
}

namespace anchorctl {

// Which bus: the system bus unless --session or --bus-address says otherwise.
struct BusOptions {
    bool session = false;
    std::string address;  // non-empty: this D-Bus address ("unix:path=...")

    std::string describe() const;  // "the system bus", "the bus at unix:path=/x"
};

// The Failure for a D-Bus error `name` (with its message) met while talking
// to anchord on `bus`: exit 3 with how to start anchord when nobody answers,
// 4 when the caller is not authorized, else anchord's own mapping.
Failure failure_from_dbus(const std::string& name, const std::string& message,
                          const BusOptions& bus);

// Enroll's options (io.github.anchord1.xml).
struct EnrollOptions {
    bool partial = false;  // enroll what is accepted, report the rest
    bool brief = false;    // an enrolled certificate's result: only checks that warned or failed
};

class ManagerProxy;

class Anchord {
  public:
    // Connects to the bus; throws Failure (exit 3) when the bus is unreachable.
    explicit Anchord(BusOptions options);
    ~Anchord();
    Anchord(const Anchord&) = delete;
    Anchord& operator=(const Anchord&) = delete;

    ManagerInfo manager();
    // Every keyring object anchord exports, in the order builtin, secondary,
    // machine, platform, ima, evm (names anchord adds later come last).
    std::vector<KeyringInfo> keyrings();
    std::vector<CertificateResult> verify(const anchord::Bytes& bundle, const std::string& keyring);
    std::vector<CertificateResult> enroll(const anchord::Bytes& bundle, const std::string& keyring,
                                          const EnrollOptions& options);
    void remove(const std::string& fingerprint, const std::string& keyring);
    bool seal(const std::string& keyring);  // true: the kernel enforces the seal
    std::vector<DriftEntry> reconcile();
    PolicyInfo policy();

  private:
    template <typename F>
    auto call(F&& f) -> decltype(f());
    std::vector<KeyringInfo> keyrings_one_by_one();

    BusOptions options_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<ManagerProxy> manager_;
};

}  // namespace anchorctl
