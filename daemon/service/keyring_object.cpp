#include "service/keyring_object.hpp"

#include "anchord/bus_api.hpp"
#include "service/bus_errors.hpp"

namespace anchord::service {

namespace iface = io::github::anchord1;

std::string keyring_object_path(LogicalKeyring keyring) {
    return bus_api::kKeyringPathPrefix + std::string(to_string(keyring));
}

KeyringObject::KeyringObject(sdbus::IConnection& bus, const manager::Manager& manager,
                             LogicalKeyring keyring)
    : AdaptorInterfaces(bus, keyring_object_path(keyring)), manager_(manager), keyring_(keyring) {
    registerAdaptor();
    // Clients watching the ObjectManager learn of it (no-op before the
    // name is owned: nobody listens yet).
    emitInterfacesAddedSignal({iface::Keyring_adaptor::INTERFACE_NAME});
}

KeyringObject::~KeyringObject() {
    unregisterAdaptor();
}

void KeyringObject::keys_changed() {
    emitPropertiesChangedSignal(iface::Keyring_adaptor::INTERFACE_NAME, {"Keys"});
}

void KeyringObject::sealed_changed() {
    emitPropertiesChangedSignal(iface::Keyring_adaptor::INTERFACE_NAME, {"Sealed"});
}

void KeyringObject::role_changed() {
    emitPropertiesChangedSignal(iface::Keyring_adaptor::INTERFACE_NAME, {"Role"});
}

std::string KeyringObject::Name() {
    return std::string(to_string(keyring_));
}

std::string KeyringObject::KernelName() {
    return translate([&] { return manager_.keyring(keyring_).kernel_name; });
}

int32_t KeyringObject::Serial() {
    return translate([&] { return manager_.keyring(keyring_).serial.value; });
}

bool KeyringObject::Present() {
    return translate([&] { return manager_.keyring(keyring_).present; });
}

bool KeyringObject::KernelGuarded() {
    return translate([&] { return manager_.keyring(keyring_).kernel_guarded; });
}

bool KeyringObject::Sealed() {
    return translate([&] { return manager_.keyring(keyring_).sealed; });
}

std::string KeyringObject::Role() {
    return translate([&] { return manager_.keyring(keyring_).role; });
}

std::vector<sdbus::Struct<int32_t, std::string, std::string, std::string>> KeyringObject::Keys() {
    return translate([&] {
        std::vector<sdbus::Struct<int32_t, std::string, std::string, std::string>> out;
        for (const auto& key : *manager_.keys(keyring_)) {
            out.emplace_back(key.serial.value, key.description,
                             key.fingerprint ? key.fingerprint->to_string() : std::string(),
                             std::string(manager::to_string(key.origin)));
        }
        return out;
    });
}

}  // namespace anchord::service
