#include "auth/authorizer.hpp"

#include <pwd.h>
#include <systemd/sd-bus.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "anchord/sdbus.hpp"

namespace anchord::auth {
namespace {

constexpr const char* kBusDriverName = "org.freedesktop.DBus";
constexpr const char* kBusDriverPath = "/org/freedesktop/DBus";
constexpr const char* kBusDriverInterface = "org.freedesktop.DBus";
constexpr const char* kPolkitPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* kPolkitInterface = "org.freedesktop.PolicyKit1.Authority";

// polkit's CheckAuthorizationFlags
constexpr std::uint32_t kPolkitAllowUserInteraction = 1;

// The error names that mean "polkit is simply not there".
bool means_no_such_service(const std::string& error_name) {
    return error_name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
           error_name == "org.freedesktop.DBus.Error.NameHasNoOwner";
}

// sdbus-c++ 1.2 keeps the sd_bus_message in a protected member and has no
// accessor for the ALLOW_INTERACTIVE_AUTHORIZATION header flag; a pointer to
// that member, formed through a derived class, reads it without copying.
struct RawMessage : sdbus::Message {
    static sd_bus_message* of(const sdbus::Message& message) {
        return static_cast<sd_bus_message*>(message.*(&RawMessage::msg_));
    }
};

// polkitd starts as root and then switches to its own system account
// ("polkitd" on Debian and Fedora), and the system bus lets only root and
// that account own polkit's name: either may answer.
bool is_polkit_account(std::uint32_t uid) {
    if (uid == 0) return true;
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16384);
    return ::getpwnam_r("polkitd", &entry, buffer.data(), buffer.size(), &found) == 0 &&
           found != nullptr && found->pw_uid == uid;
}

std::unique_ptr<sdbus::IProxy> bus_driver(sdbus::IConnection& bus) {
    return sdbus::createProxy(bus, kBusDriverName, kBusDriverPath);
}

std::string describe(const sdbus::Error& e) {
    return e.getName() + (e.getMessage().empty() ? "" : ": " + e.getMessage());
}

}  // namespace

std::string_view action_id(Action action) noexcept {
    switch (action) {
        case Action::Enroll:
            return "io.github.anchord1.enroll";
        case Action::Remove:
            return "io.github.anchord1.remove";
        case Action::Seal:
            return "io.github.anchord1.seal";
        case Action::Reconcile:
            return "io.github.anchord1.reconcile";
        case Action::ReloadPolicy:
            return "io.github.anchord1.reload-policy";
    }
    return "io.github.anchord1.unknown";
}

std::string_view action_description(Action action) noexcept {
    switch (action) {
        case Action::Enroll:
            return "enroll certificates";
        case Action::Remove:
            return "remove certificates";
        case Action::Seal:
            return "seal keyrings";
        case Action::Reconcile:
            return "reconcile the keyrings";
        case Action::ReloadPolicy:
            return "reload the policy";
    }
    return "do this";
}

Authorizer::Authorizer(sdbus::IConnection& bus) : bus_(bus) {}

std::uint32_t Authorizer::connection_uid(const std::string& bus_name) {
    auto driver = bus_driver(bus_);
    auto call = driver->createMethodCall(kBusDriverInterface, "GetConnectionUnixUser");
    call << bus_name;
    auto reply = driver->callMethod(call, kTimeoutUsec);
    std::uint32_t uid = 0;
    reply >> uid;
    return uid;
}

Caller Authorizer::identify(const sdbus::Message& call) {
    Caller caller;
    caller.bus_name = call.getSender();
    if (caller.bus_name.empty()) {
        throw Error(ErrorCode::AccessDenied,
                    "the call has no sender, so its caller cannot be identified; refusing it");
    }
    try {
        caller.uid = connection_uid(caller.bus_name);
    } catch (const sdbus::Error& e) {
        throw Error(ErrorCode::AccessDenied, "cannot learn the uid of the caller " +
                                                 caller.bus_name + " from the bus (" + describe(e) +
                                                 "); refusing the call");
    }
    sd_bus_message* raw = RawMessage::of(call);
    caller.allow_interactive =
        raw != nullptr && sd_bus_message_get_allow_interactive_authorization(raw) > 0;
    return caller;
}

void Authorizer::check(const Caller& caller, Action action) {
    // Root can write the keyrings with keyctl anyway; polkit, too, answers
    // yes to uid 0 without consulting its rules.
    if (caller.uid == 0) return;

    auto denied = [&](const std::string& why) {
        return Error(ErrorCode::AccessDenied,
                     "uid " + std::to_string(caller.uid) + " (" + caller.bus_name +
                         ") is not authorized to " + std::string(action_description(action)) +
                         " (polkit action " + std::string(action_id(action)) + "): " + why);
    };

    // Whom to ask: the current owner of polkit's name, started on demand
    // where it is bus-activatable. Asking the unique name keeps a new owner
    // from answering in between.
    std::string polkit;
    try {
        auto driver = bus_driver(bus_);
        try {
            auto call = driver->createMethodCall(kBusDriverInterface, "GetNameOwner");
            call << std::string(kPolkitBusName);
            driver->callMethod(call, kTimeoutUsec) >> polkit;
        } catch (const sdbus::Error& e) {
            if (e.getName() != "org.freedesktop.DBus.Error.NameHasNoOwner") throw;
            auto start = driver->createMethodCall(kBusDriverInterface, "StartServiceByName");
            start << std::string(kPolkitBusName) << std::uint32_t{0};
            driver->callMethod(start, kTimeoutUsec);
            auto call = driver->createMethodCall(kBusDriverInterface, "GetNameOwner");
            call << std::string(kPolkitBusName);
            driver->callMethod(call, kTimeoutUsec) >> polkit;
        }
    } catch (const sdbus::Error& e) {
        if (means_no_such_service(e.getName())) {
            throw denied("polkit is not on this bus, so only root may do this");
        }
        throw denied("cannot reach polkit (" + describe(e) + ")");
    }

    // Any peer may claim the name on a bus without policy (a session bus);
    // only a polkit running as root or as polkitd is an authority.
    try {
        std::uint32_t owner_uid = connection_uid(polkit);
        if (!is_polkit_account(owner_uid)) {
            throw denied("the owner of " + std::string(kPolkitBusName) + " (" + polkit +
                         ") runs as uid " + std::to_string(owner_uid) +
                         ", neither root nor polkitd, so its answer is not trusted");
        }
    } catch (const sdbus::Error& e) {
        throw denied("cannot learn who owns " + std::string(kPolkitBusName) + " (" + describe(e) +
                     ")");
    }

    using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
    using Result = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;
    Result result;
    try {
        auto authority = sdbus::createProxy(bus_, polkit, kPolkitPath);
        auto call = authority->createMethodCall(kPolkitInterface, "CheckAuthorization");
        Subject subject{
            std::string("system-bus-name"),
            std::map<std::string, sdbus::Variant>{{"name", sdbus::Variant(caller.bus_name)}}};
        call << subject << std::string(action_id(action)) << std::map<std::string, std::string>{}
             << (caller.allow_interactive ? kPolkitAllowUserInteraction : std::uint32_t{0})
             << std::string();
        auto reply = authority->callMethod(
            call, caller.allow_interactive ? kInteractiveTimeoutUsec : kTimeoutUsec);
        reply >> result;
    } catch (const sdbus::Error& e) {
        throw denied("asking polkit failed (" + describe(e) + ")");
    }

    bool authorized = std::get<0>(result);
    bool challenge = std::get<1>(result);
    const auto& details = std::get<2>(result);
    if (authorized) return;
    if (details.contains("polkit.dismissed"))
        throw denied("the authentication dialog was dismissed");
    if (challenge) {
        throw denied(caller.allow_interactive
                         ? "polkit asked for authentication and it did not succeed"
                         : "polkit requires authentication, and the call did not allow interactive "
                           "authorization");
    }
    throw denied("polkit's rules do not allow it");
}

}  // namespace anchord::auth
