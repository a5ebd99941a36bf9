#include "bus.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string_view>

// bus.hpp brought anchord/sdbus.hpp: the generated proxy marshals with its overloads.
#include "anchord/bus_api.hpp"
#include "anchord/proxy.h"

namespace anchorctl {

using anchord::bus_api::kBusName;
using anchord::bus_api::kKeyringInterface;
using anchord::bus_api::kKeyringPathPrefix;
using anchord::bus_api::kManagerInterface;
using anchord::bus_api::kManagerPath;

class ManagerProxy final
    : public sdbus::ProxyInterfaces<io::github::anchord1::Manager_proxy, sdbus::Properties_proxy,
                                    sdbus::ObjectManager_proxy> {
  public:
    // anchorctl listens to no signal, so the proxy is never registered: it
    // only makes calls, synchronously, on the connection it is given.
    explicit ManagerProxy(sdbus::IConnection& connection)
        : ProxyInterfaces(connection, kBusName, kManagerPath) {}
    ~ManagerProxy() = default;

    sdbus::IProxy& raw() { return getProxy(); }

  private:
    void onKeyEnrolled(const std::string&, const std::string&, const int32_t&) override {}
    void onKeyRemoved(const std::string&, const std::string&) override {}
    void onKeyringSealed(const std::string&, const bool&) override {}
    void onDriftDetected(const std::vector<DbusQuad>&) override {}
    void onPropertiesChanged(const std::string&, const std::map<std::string, sdbus::Variant>&,
                             const std::vector<std::string>&) override {}
    void onInterfacesAdded(
        const sdbus::ObjectPath&,
        const std::map<std::string, std::map<std::string, sdbus::Variant>>&) override {}
    void onInterfacesRemoved(const sdbus::ObjectPath&, const std::vector<std::string>&) override {}
};

namespace {

// Verify, Enroll and Reconcile may work through a large bundle or every
// keyring; the bus's default of 25 s would cut them off.
constexpr auto kLongCallTimeout = std::chrono::minutes(5);

constexpr std::array<std::string_view, 5> kUnreachableNames{
    "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoServer", "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.FileNotFound"};
constexpr std::array<std::string_view, 3> kNoAnswerNames{"org.freedesktop.DBus.Error.NoReply",
                                                         "org.freedesktop.DBus.Error.Timeout",
                                                         "org.freedesktop.DBus.Error.TimedOut"};
constexpr std::array<std::string_view, 3> kNotAuthorizedNames{
    "org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.PolicyKit1.Error.NotAuthorized",
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"};

template <std::size_t N>
bool is_one_of(const std::array<std::string_view, N>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string start_hint(const BusOptions& bus) {
    if (!bus.address.empty()) {
        return "is anchord running? start it on that bus with `anchord --bus-address " +
               bus.address + "`";
    }
    if (bus.session) {
        return "is anchord running? start it on your session bus with `anchord --session`";
    }
    return "is anchord running? start it with `systemctl start anchord`, or run `anchord "
           "--session` and call anchorctl with --session";
}

using PropertyMap = std::map<std::string, sdbus::Variant>;

// A property of a GetAll or GetManagedObjects answer; a missing one keeps
// `fallback` (an older anchord), one of the wrong type is a bad reply.
template <typename T>
T property(const PropertyMap& properties, const std::string& name, T fallback) {
    const auto it = properties.find(name);
    if (it == properties.end()) return fallback;
    if (!it->second.template containsValueOfType<T>()) {
        throw bad_reply("property " + name + " has the type \"" + it->second.peekValueType() +
                        "\", not \"" + sdbus::signature_of<T>::str() + "\"");
    }
    return it->second.template get<T>();
}

KeyringInfo keyring_from_properties(const PropertyMap& p, const std::string& path_name) {
    KeyringInfo k;
    k.name = property<std::string>(p, "Name", path_name);
    k.kernel_name = property<std::string>(p, "KernelName", "");
    k.serial = property<std::int32_t>(p, "Serial", 0);
    k.present = property<bool>(p, "Present", false);
    k.sealed = property<bool>(p, "Sealed", false);
    k.guarded = property<bool>(p, "KernelGuarded", false);
    k.role = property<std::string>(p, "Role", "");
    k.keys = keys_from_dbus(property<std::vector<DbusKey>>(p, "Keys", {}));
    return k;
}

// builtin .. evm in the model's order, then any other name alphabetically.
std::size_t keyring_rank(const std::string& name) {
    if (const auto logical = anchord::parse_logical_keyring(name)) {
        return static_cast<std::size_t>(*logical);
    }
    return anchord::kAllLogicalKeyrings.size();
}

void sort_keyrings(std::vector<KeyringInfo>& keyrings) {
    std::sort(keyrings.begin(), keyrings.end(), [](const KeyringInfo& a, const KeyringInfo& b) {
        const auto ra = keyring_rank(a.name);
        const auto rb = keyring_rank(b.name);
        return ra != rb ? ra < rb : a.name < b.name;
    });
}

// Restores the connection's default timeout when a long call ends.
class LongCall {
  public:
    explicit LongCall(sdbus::IConnection& connection)
        : connection_(connection), saved_(connection.getMethodCallTimeout()) {
        connection_.setMethodCallTimeout(kLongCallTimeout);
    }
    ~LongCall() { connection_.setMethodCallTimeout(saved_); }
    LongCall(const LongCall&) = delete;
    LongCall& operator=(const LongCall&) = delete;

  private:
    sdbus::IConnection& connection_;
    std::uint64_t saved_;
};

std::vector<CertificateResult> results_from_dbus(const std::vector<DbusCertificateResult>& in) {
    std::vector<CertificateResult> out;
    out.reserve(in.size());
    for (const auto& r : in) out.push_back(from_dbus(r));
    return out;
}

}  // namespace

std::string BusOptions::describe() const {
    if (!address.empty()) return "the bus at " + address;
    return session ? "the session bus" : "the system bus";
}

Failure failure_from_dbus(const std::string& name, const std::string& message,
                          const BusOptions& bus) {
    anchord::ErrorCode code{};
    if (anchord::error_code_from_dbus_name(name, code)) {
        return Failure(anchord::exit_status_for(code), name, message);
    }
    if (is_one_of(kNotAuthorizedNames, name)) {
        return Failure(anchord::exit_status::not_authorized, name,
                       "not authorized: " + message +
                           " (changing anchord's keyrings needs root or a polkit grant)");
    }
    if (is_one_of(kUnreachableNames, name)) {
        return Failure(anchord::exit_status::unreachable, name,
                       "cannot reach anchord (" + std::string(kBusName) + ") on " + bus.describe() +
                           ": " + message + "; " + start_hint(bus));
    }
    if (is_one_of(kNoAnswerNames, name)) {
        return Failure(anchord::exit_status::unreachable, name,
                       "anchord on " + bus.describe() + " did not answer: " + message + "; " +
                           start_hint(bus));
    }
    return Failure(anchord::exit_status::failed, name, message);
}

template <typename F>
auto Anchord::call(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const sdbus::Error& e) {
        throw failure_from_dbus(e.getName(), e.getMessage(), options_);
    }
}

Anchord::Anchord(BusOptions options) : options_(std::move(options)) {
    try {
        if (!options_.address.empty()) {
            // sdbus-c++ 1.2's createSessionBusConnectionWithAddress() leaks
            // its sd_bus when the connection fails; sd_bus_open_user(),
            // behind createSessionBusConnection(), frees its own and takes
            // the address from DBUS_SESSION_BUS_ADDRESS.
            ::setenv("DBUS_SESSION_BUS_ADDRESS", options_.address.c_str(), 1);
            connection_ = sdbus::createSessionBusConnection();
        } else if (options_.session) {
            connection_ = sdbus::createSessionBusConnection();
        } else {
            connection_ = sdbus::createSystemBusConnection();
        }
    } catch (const sdbus::Error& e) {
        // Whatever errno sd-bus met (no socket, refused, bad address), the
        // caller's answer is the same: nothing to talk to there.
        throw Failure(anchord::exit_status::unreachable, "org.freedesktop.DBus.Error.NoServer",
                      "cannot connect to " + options_.describe() + ": " + e.getMessage() + "; " +
                          start_hint(options_));
    }
    manager_ = std::make_unique<ManagerProxy>(*connection_);
}

Anchord::~Anchord() = default;

ManagerInfo Anchord::manager() {
    const auto p = call([&] { return manager_->GetAll(kManagerInterface); });
    ManagerInfo m;
    m.version = property<std::string>(p, "Version", "");
    m.mode = property<std::string>(p, "Mode", "");
    m.policy_digest = property<std::string>(p, "PolicyDigest", "");
    m.compliant = property<bool>(p, "Compliant", false);
    m.last_reconcile_usec = property<std::uint64_t>(p, "LastReconcile", 0);
    m.drift = drift_from_dbus(property<std::vector<DbusQuad>>(p, "Drift", {}));
    m.provisioning = provisioning_from_dbus(property<std::vector<DbusQuad>>(p, "Provisioning", {}));
    return m;
}

std::vector<KeyringInfo> Anchord::keyrings() {
    std::map<sdbus::ObjectPath, std::map<std::string, PropertyMap>> objects;
    try {
        objects = manager_->GetManagedObjects();
    } catch (const sdbus::Error& e) {
        // An anchord without the ObjectManager still exports the objects.
        if (e.getName() == "org.freedesktop.DBus.Error.UnknownMethod" ||
            e.getName() == "org.freedesktop.DBus.Error.UnknownInterface") {
            return keyrings_one_by_one();
        }
        throw failure_from_dbus(e.getName(), e.getMessage(), options_);
    }
    const std::string_view prefix = kKeyringPathPrefix;
    std::vector<KeyringInfo> out;
    for (const auto& [path, interfaces] : objects) {
        const auto it = interfaces.find(kKeyringInterface);
        if (it == interfaces.end()) continue;
        const std::string& p = path;
        const std::string path_name =
            std::string_view(p).starts_with(prefix) ? p.substr(prefix.size()) : p;
        out.push_back(keyring_from_properties(it->second, path_name));
    }
    sort_keyrings(out);
    return out;
}

std::vector<KeyringInfo> Anchord::keyrings_one_by_one() {
    std::vector<KeyringInfo> out;
    for (const auto logical : anchord::kAllLogicalKeyrings) {
        const std::string name(anchord::to_string(logical));
        auto proxy = sdbus::createProxy(*connection_, kBusName, kKeyringPathPrefix + name);
        PropertyMap properties;
        try {
            proxy->callMethod("GetAll")
                .onInterface("org.freedesktop.DBus.Properties")
                .withArguments(std::string(kKeyringInterface))
                .storeResultsTo(properties);
        } catch (const sdbus::Error& e) {
            if (e.getName() == "org.freedesktop.DBus.Error.UnknownObject" ||
                e.getName() == "org.freedesktop.DBus.Error.UnknownInterface" ||
                e.getName() == "org.freedesktop.DBus.Error.UnknownMethod") {
                continue;  // anchord does not export this keyring
            }
            throw failure_from_dbus(e.getName(), e.getMessage(), options_);
        }
        out.push_back(keyring_from_properties(properties, name));
    }
    return out;
}

std::vector<CertificateResult> Anchord::verify(const anchord::Bytes& bundle,
                                               const std::string& keyring) {
    LongCall long_call(*connection_);
    return results_from_dbus(call([&] { return manager_->Verify(bundle, keyring); }));
}

std::vector<CertificateResult> Anchord::enroll(const anchord::Bytes& bundle,
                                               const std::string& keyring,
                                               const EnrollOptions& wanted) {
    LongCall long_call(*connection_);
    std::map<std::string, sdbus::Variant> options;
    if (wanted.partial) options.emplace(anchord::bus_api::kPartialOption, sdbus::Variant(true));
    if (wanted.brief) options.emplace(anchord::bus_api::kBriefOption, sdbus::Variant(true));
    return results_from_dbus(call([&] { return manager_->Enroll(bundle, keyring, options); }));
}

void Anchord::remove(const std::string& fingerprint, const std::string& keyring) {
    call([&] { manager_->Remove(fingerprint, keyring); });
}

bool Anchord::seal(const std::string& keyring) {
    return call([&] { return manager_->Seal(keyring); });
}

std::vector<DriftEntry> Anchord::reconcile() {
    LongCall long_call(*connection_);
    return drift_from_dbus(call([&] { return manager_->Reconcile(); }));
}

PolicyInfo Anchord::policy() {
    const auto [json, digest] = call([&] { return manager_->GetPolicy(); });
    return {json, digest};
}

}  // namespace anchorctl
