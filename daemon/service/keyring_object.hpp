// io.github.anchord1.Keyring at /io/github/anchord1/keyring/<name>: one
// object per logical keyring, every property read from the manager when
// asked, so it always shows what the kernel holds now.
#pragma once

#include <string>

#include "anchord/sdbus.hpp"
// After sdbus.hpp: the generated code marshals with its overloads.
#include "anchord/adaptor.h"
#include "anchord/types.hpp"
#include "manager/manager.hpp"

namespace anchord::service {

// bus_api::kKeyringPathPrefix and the keyring's name.
std::string keyring_object_path(LogicalKeyring keyring);

class KeyringObject final
    : public sdbus::AdaptorInterfaces<io::github::anchord1::Keyring_adaptor,
                                      sdbus::ManagedObject_adaptor, sdbus::Properties_adaptor> {
  public:
    KeyringObject(sdbus::IConnection& bus, const manager::Manager& manager, LogicalKeyring keyring);
    ~KeyringObject();

    // PropertiesChanged for what a change touched.
    void keys_changed();
    void sealed_changed();
    void role_changed();

  private:
    std::string Name() override;
    std::string KernelName() override;
    int32_t Serial() override;
    bool Present() override;
    bool KernelGuarded() override;
    bool Sealed() override;
    std::string Role() override;
    std::vector<sdbus::Struct<int32_t, std::string, std::string, std::string>> Keys() override;

    const manager::Manager& manager_;
    const LogicalKeyring keyring_;
};

}  // namespace anchord::service
