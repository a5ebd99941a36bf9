// anchord: load the policy and the state, put the recorded certificates back
// into the kernel's keyrings, provision the drop-in folder, then serve the
// D-Bus API until SIGTERM. The bus runs on its own thread; this thread
// waits for signals and runs the drift timer and the watchdog.
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "anchord/bus_api.hpp"
#include "anchord/error.hpp"
#include "anchord/sdbus.hpp"
#include "auth/authorizer.hpp"
#include "config/config.hpp"
#include "journal/journal.hpp"
#include "keyring/keyrings.hpp"
#include "manager/manager.hpp"
#include "service/manager_object.hpp"
#include "service/workers.hpp"

namespace {

using namespace anchord;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kWorkerThreads = 2;

void notify_status(const std::string& status) {
    sd_notify(0, ("STATUS=" + status).c_str());
}

// The signals this thread handles, blocked in every thread (the bus and
// worker threads inherit the mask) so that only the signalfd sees them.
class SignalFd {
  public:
    SignalFd() {
        sigemptyset(&mask_);
        sigaddset(&mask_, SIGTERM);
        sigaddset(&mask_, SIGINT);
        sigaddset(&mask_, SIGHUP);
        if (pthread_sigmask(SIG_BLOCK, &mask_, nullptr) != 0) {
            throw Error(ErrorCode::Internal, "cannot block signals");
        }
        fd_ = signalfd(-1, &mask_, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd_ < 0) {
            int err = errno;
            throw Error(ErrorCode::Internal, std::string("signalfd: ") + std::strerror(err));
        }
    }
    SignalFd(const SignalFd&) = delete;
    SignalFd& operator=(const SignalFd&) = delete;
    ~SignalFd() { ::close(fd_); }

    // Waits up to `timeout` for a signal; nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout) const {
        pollfd p{fd_, POLLIN, 0};
        int ms = static_cast<int>(
            std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, 60'000));
        int r = ::poll(&p, 1, ms);
        if (r <= 0) return std::nullopt;
        signalfd_siginfo info{};
        if (::read(fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info))
            return std::nullopt;
        return static_cast<int>(info.ssi_signo);
    }

  private:
    sigset_t mask_{};
    int fd_ = -1;
};

// The bus thread. sdbus-c++'s own (enterEventLoopAsync) lets an error of
// the connection escape its thread, which ends the process in
// std::terminate, a core dump, whenever dbus-daemon goes away. This one
// hands the error to the main loop (waking it as SIGTERM would), which
// stops anchord with an error: the unit restarts it on a bus that works.
class BusThread {
  public:
    explicit BusThread(sdbus::IConnection& bus) : bus_(bus), thread_([this] { run(); }) {}
    ~BusThread() { stop(); }
    BusThread(const BusThread&) = delete;
    BusThread& operator=(const BusThread&) = delete;

    void stop() {
        if (!thread_.joinable()) return;
        bus_.leaveEventLoop();
        thread_.join();
    }
    // Why the connection ended, if it did.
    std::optional<std::string> lost() const {
        std::lock_guard lock(mutex_);
        return lost_;
    }

  private:
    void run() {
        try {
            bus_.enterEventLoop();
        } catch (const sdbus::Error& e) {
            {
                std::lock_guard lock(mutex_);
                lost_ = e.getName() + ": " + e.getMessage();
            }
            ::kill(::getpid(), SIGTERM);  // blocked in every thread: the signalfd reads it
        }
    }

    sdbus::IConnection& bus_;
    mutable std::mutex mutex_;
    std::optional<std::string> lost_;
    std::thread thread_;  // last: starts once the members above exist
};

std::unique_ptr<sdbus::IConnection> connect(const config::Config& config) {
    switch (config.bus) {
        case config::BusKind::System:
            return sdbus::createSystemBusConnection();
        case config::BusKind::Session:
            return sdbus::createSessionBusConnection();
        case config::BusKind::Address:
            return sdbus::createSessionBusConnectionWithAddress(config.bus_address);
    }
    return sdbus::createSystemBusConnection();
}

std::string bus_description(const config::Config& config) {
    switch (config.bus) {
        case config::BusKind::System:
            return "the system bus";
        case config::BusKind::Session:
            return "the session bus";
        case config::BusKind::Address:
            return "the bus at " + config.bus_address;
    }
    return "the bus";
}

bool watchdog_enabled() {
    std::uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 && usec > 0;
}

int fail(const std::string& message) {
    journal::log(LOG_ERR, message);
    notify_status("Failed: " + message);
    return config::exit_code::failure;
}

int serve(const config::Config& config, SignalFd& signals) {
    notify_status("Loading the policy");
    Policy policy;
    try {
        policy = manager::load_policy_file(config.policy);
    } catch (const Error& e) {
        return fail(std::string("cannot start: ") + e.what());
    }
    journal::info(journal::Event::PolicyLoaded,
                  "policy " + config.policy.string() + " loaded (" + policy.digest + ")");

    notify_status("Loading the state");
    state::StateStore store(config.state_dir);
    state::State state;
    try {
        state = store.load();
    } catch (const Error& e) {
        return fail(std::string("cannot start: the state cannot be read, and anchord will not "
                                "guess: ") +
                    e.what());
    }

    notify_status("Finding the keyrings");
    auto kernel = keyring::detect_kernel_profile();
    std::vector<Certificate> anchors;
    std::optional<keyring::Keyrings> keyrings;
    try {
        if (config.sandbox_anchors) {
            anchors = manager::load_anchor_folder(*config.sandbox_anchors);
            // The sandbox of an anchord that was killed is still in the
            // session keyring: take it over, as the system's keyrings are
            // found again, so that its write-ahead intents can be settled.
            if (auto left = keyring::Keyrings::adopt_sandbox(anchors)) {
                journal::log(LOG_NOTICE,
                             "taking over the sandbox keyrings a previous anchord "
                             "left in the session keyring");
                keyrings.emplace(std::move(*left));
            } else {
                keyrings.emplace(keyring::Keyrings::sandbox(anchors));
            }
        } else {
            keyrings.emplace(keyring::Keyrings::system(policy, config.create_keyrings));
        }
    } catch (const Error& e) {
        return fail(std::string("cannot start: the keyrings cannot be set up: ") + e.what());
    }

    manager::Manager manager(manager::ManagerSetup{config.policy, std::move(policy),
                                                   std::move(*keyrings), kernel, std::move(store),
                                                   std::move(state), std::move(anchors)});
    try {
        notify_status("Applying the recorded certificates");
        manager.restore();
        notify_status("Provisioning " + config.dropin_dir.string());
        manager.provision(config.dropin_dir);
        manager.refresh_drift();
    } catch (const Error& e) {
        return fail(std::string("cannot start: ") + e.what());
    }

    // Start-up parsed every recorded certificate; what it freed goes back
    // to the system rather than staying in the heap of an idle daemon.
    ::malloc_trim(0);

    // Ready before the bus: the keys are in place, which is what the units
    // ordered after anchord wait for. The unit runs before basic.target and
    // dbus.service only after it, so waiting for the bus first would stall
    // the boot (see systemd/anchord.service). Clients reach anchord through
    // bus activation, which waits for the name.
    sd_notify(0, ("READY=1\nSTATUS=The keys are in place; connecting to " + bus_description(config))
                     .c_str());
    if (watchdog_enabled()) sd_notify(0, "WATCHDOG=1");
    std::unique_ptr<sdbus::IConnection> bus;
    try {
        bus = connect(config);
    } catch (const sdbus::Error& e) {
        return fail("cannot connect to " + bus_description(config) + ": " + e.getMessage());
    }
    auth::Authorizer authorizer(*bus);
    service::Workers workers(kWorkerThreads);
    auto object = std::make_unique<service::ManagerObject>(*bus, manager, authorizer, workers,
                                                           ANCHORD_VERSION);
    manager.set_listener(object.get());
    try {
        // Objects first, then the name: whoever sees the name finds them.
        bus->requestName(bus_api::kBusName);
    } catch (const sdbus::Error& e) {
        manager.set_listener(nullptr);
        workers.stop();
        return fail(std::string("cannot own the name ") + bus_api::kBusName + " on " +
                    bus_description(config) + ": " + e.getMessage());
    }
    BusThread bus_thread(*bus);

    journal::info(journal::Event::Started, std::string("serving ") + bus_api::kBusName + " on " +
                                               bus_description(config) +
                                               (manager.sandbox() ? " (sandbox)" : ""));
    notify_status(manager.compliant() ? "Serving; the keyrings match the state"
                                      : "Serving; drift found (see the Drift property)");

    std::uint64_t watchdog_usec = 0;
    std::optional<std::chrono::microseconds> watchdog_interval;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        watchdog_interval = std::chrono::microseconds(watchdog_usec / 2);
    }
    auto next_drift = Clock::now() + config.drift_interval;
    auto next_watchdog = Clock::now();

    for (;;) {
        auto now = Clock::now();
        if (watchdog_interval && now >= next_watchdog) {
            sd_notify(0, "WATCHDOG=1");
            next_watchdog = now + *watchdog_interval;
        }
        if (now >= next_drift) {
            try {
                manager.refresh_drift();
            } catch (const std::exception& e) {
                journal::log(LOG_ERR, std::string("cannot compute drift: ") + e.what());
            }
            next_drift = Clock::now() + config.drift_interval;
        }
        auto deadline = next_drift;
        if (watchdog_interval) deadline = std::min(deadline, next_watchdog);
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) +
                    std::chrono::milliseconds(1);
        auto signal = signals.wait(wait);
        if (!signal) continue;
        if (*signal == SIGHUP) {
            sd_notify(0, "RELOADING=1\nSTATUS=Reloading the policy");
            try {
                manager.reload_policy();
            } catch (const std::exception&) {
                // Logged by the manager; the old policy stays.
            }
            sd_notify(0, "READY=1\nSTATUS=Serving");  // ends RELOADING=1
            continue;
        }
        break;  // SIGTERM, SIGINT, or the bus thread's loss of the bus
    }

    sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
    const auto lost = bus_thread.lost();
    if (!lost) {
        journal::info(journal::Event::Stopping, "stopping on request");
        try {
            bus->releaseName(bus_api::kBusName);
        } catch (const sdbus::Error& e) {
            journal::log(LOG_WARNING, "cannot release the bus name: " + e.getMessage());
        }
    }
    // Running requests finish (they may still need the bus thread for
    // polkit's answer), then the bus thread stops, then the objects go.
    workers.stop();
    bus_thread.stop();
    manager.set_listener(nullptr);
    object.reset();
    if (lost) {
        return fail("stopping: the connection to " + bus_description(config) + " ended (" + *lost +
                    ")");
    }
    return config::exit_code::ok;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = config::parse_command_line(argc, argv);
    if (parsed.exit_now) {
        std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
        return parsed.exit_code;
    }
    // A few worker threads, each of which would otherwise get a heap arena
    // of its own that keeps what a large bundle once needed.
    ::mallopt(M_ARENA_MAX, 2);
    try {
        SignalFd signals;  // before any thread starts
        return serve(parsed.config, signals);
    } catch (const Error& e) {
        return fail(e.what());
    } catch (const sdbus::Error& e) {
        return fail(e.getName() + ": " + e.getMessage());
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
    }
}
