// Who is calling, and may they? The caller's uid comes from the bus driver
// (never from an argument); the decision comes from polkit, or, where polkit
// is not on the bus, is "root only". Every doubt denies.
//
// Threads (sdbus-c++ 1.2, measured in tests/daemon/authorizer_test.cpp):
// identify() and check() make synchronous calls on the connection they were
// given. They work
//   - in a method handler on the connection's event-loop thread (sdbus-c++
//     sends with sd_bus_call there, which queues unrelated messages until
//     the reply arrives), and
//   - in a worker thread that answers an Async method while the event loop
//     runs elsewhere (sdbus-c++ sends, and the loop thread delivers the reply).
// While a handler on the loop thread waits for polkit, no other request on
// that connection is served: an interactive authorization (a password
// prompt) can take minutes, so handlers of privileged methods should be
// Async and call check() from a worker thread.
#pragma once

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/Message.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "anchord/error.hpp"

namespace anchord::auth {

enum class Action { Enroll, Remove, Seal, Reconcile, ReloadPolicy };

// The polkit action id: "io.github.anchord1.enroll", ".remove", ".seal",
// ".reconcile", ".reload-policy".
std::string_view action_id(Action action) noexcept;
// What the action does, for messages: "enroll certificates", ...
std::string_view action_description(Action action) noexcept;

struct Caller {
    std::string bus_name;  // the unique name (":1.42") of the calling connection
    std::uint32_t uid = 0;
    bool allow_interactive = false;  // the call carries ALLOW_INTERACTIVE_AUTHORIZATION
};

inline constexpr std::string_view kPolkitBusName = "org.freedesktop.PolicyKit1";

class Authorizer {
  public:
    explicit Authorizer(sdbus::IConnection& bus);

    // The caller of `call` (a method call received on `bus`). Throws
    // Error(AccessDenied) when the bus driver cannot say who it is.
    Caller identify(const sdbus::Message& call);

    // Returns when `caller` may do `action`, else throws Error(AccessDenied).
    //  - uid 0 is always allowed, as polkit itself does for root.
    //  - Otherwise polkit decides: CheckAuthorization with the caller's bus
    //    name as subject, interactive when the caller allowed it. The answer
    //    is trusted only from a polkit that runs as root or as polkitd.
    //  - No polkit on the bus (not running, not activatable), a polkit
    //    running as anyone else, or any error talking to it: denied.
    void check(const Caller& caller, Action action);

    // Bus call timeout in microseconds for a non-interactive check and for
    // the bus driver; an interactive one may take kInteractiveTimeoutUsec.
    static constexpr std::uint64_t kTimeoutUsec = 25'000'000;
    static constexpr std::uint64_t kInteractiveTimeoutUsec = 300'000'000;

  private:
    std::uint32_t connection_uid(const std::string& bus_name);

    sdbus::IConnection& bus_;
};

}  // namespace anchord::auth
