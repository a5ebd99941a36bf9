#include "bus.hpp"

#include <chrono>
#include <map>
#include <stdexcept>

#include "anchord/bus_api.hpp"

namespace anchord::bench {
namespace {

using bus_api::kBusName;
using bus_api::kKeyringInterface;
using bus_api::kKeyringPathPrefix;
using bus_api::kManagerInterface;
using bus_api::kManagerPath;
// An Enroll of a large batch on a loaded machine may outlast sd-bus's 25 s default.
constexpr auto kCallTimeout = std::chrono::seconds(300);

using Check = sdbus::Struct<std::string, std::string, std::string>;
using Result = sdbus::Struct<uint32_t, std::string, bool, int32_t, std::vector<Check>,
                             sdbus::Struct<bool, std::string, std::string>, std::string>;
using Key = sdbus::Struct<int32_t, std::string, std::string, std::string>;
using Properties = std::map<std::string, sdbus::Variant>;
using Interfaces = std::map<std::string, Properties>;
using Objects = std::map<sdbus::ObjectPath, Interfaces>;

std::string refusal(const Result& r) {
    std::string why = "certificate " + std::to_string(r.get<0>()) + " (" + r.get<1>() + ")";
    for (const auto& check : r.get<4>()) {
        if (check.get<1>() == "fail") why += ": check " + check.get<0>() + ": " + check.get<2>();
    }
    const auto& kernel = r.get<5>();
    if (!kernel.get<0>()) why += "; kernel: " + kernel.get<1>() + " " + kernel.get<2>();
    return why;
}

}  // namespace

Client::Client(const std::string& bus_address)
    : connection_(sdbus::createSessionBusConnectionWithAddress(bus_address)),
      root_(sdbus::createProxy(*connection_, kBusName, kManagerPath)),
      driver_(sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus")) {}

bool Client::name_owned() {
    bool owned = false;
    driver_->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(std::string(kBusName))
        .storeResultsTo(owned);
    return owned;
}

std::size_t Client::enroll(const Bytes& bundle, const std::string& keyring, bool brief) {
    std::vector<Result> results;
    std::map<std::string, sdbus::Variant> options;
    if (brief) options.emplace(bus_api::kBriefOption, sdbus::Variant(true));
    root_->callMethod("Enroll")
        .onInterface(kManagerInterface)
        .withTimeout(kCallTimeout)
        .withArguments(bundle, keyring, options)
        .storeResultsTo(results);
    for (const auto& r : results) {
        if (!r.get<2>()) throw std::runtime_error("anchord refused " + refusal(r));
    }
    return results.size();
}

sdbus::IProxy& Client::keyring_proxy(const std::string& keyring) {
    for (auto& [name, proxy] : keyrings_) {
        if (name == keyring) return *proxy;
    }
    keyrings_.emplace_back(keyring, sdbus::createProxy(*connection_, kBusName,
                                                       std::string(kKeyringPathPrefix) + keyring));
    return *keyrings_.back().second;
}

std::size_t Client::read_keys(const std::string& keyring) {
    auto keys = keyring_proxy(keyring).getProperty("Keys").onInterface(kKeyringInterface);
    return keys.get<std::vector<Key>>().size();
}

std::size_t Client::managed_objects() {
    Objects objects;
    root_->callMethod("GetManagedObjects")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .withTimeout(kCallTimeout)
        .storeResultsTo(objects);
    std::size_t keys = 0;
    for (const auto& [path, interfaces] : objects) {
        auto keyring = interfaces.find(kKeyringInterface);
        if (keyring == interfaces.end()) continue;
        auto k = keyring->second.find("Keys");
        if (k != keyring->second.end()) keys += k->second.get<std::vector<Key>>().size();
    }
    return keys;
}

std::string Client::version() {
    return root_->getProperty("Version").onInterface(kManagerInterface).get<std::string>();
}

}  // namespace anchord::bench
