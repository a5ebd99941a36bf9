// The integration tests' harness: the real anchord binary as a child
// process, in sandbox mode, on a private dbus-daemon, inside the test's own
// session keyring (joined in SetUp, inherited by the child). The test
// process itself starts no thread, so it may fork callers that run as other
// uids. Every wait is a bounded poll; a failing test prints the daemon's log.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <keyutils.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "anchord/bus_api.hpp"
#include "anchord/error.hpp"
#include "anchord/policy.hpp"
#include "anchord/sdbus.hpp"
#include "anchord/types.hpp"
#include "dbus_daemon.hpp"
#include "kernel_keys.hpp"
#include "test_pki.hpp"

namespace anchord::testing {

namespace fs = std::filesystem;

using bus_api::kBusName;
using bus_api::kKeyringInterface;
using bus_api::kKeyringPathPrefix;
using bus_api::kManagerInterface;
using bus_api::kManagerPath;
inline constexpr auto kTimeout = std::chrono::seconds(30);

using BusCheck = sdbus::Struct<std::string, std::string, std::string>;
using BusResult = sdbus::Struct<uint32_t, std::string, bool, int32_t, std::vector<BusCheck>,
                                sdbus::Struct<bool, std::string, std::string>, std::string>;
using BusQuad = sdbus::Struct<std::string, std::string, std::string, std::string>;
using BusKey = sdbus::Struct<int32_t, std::string, std::string, std::string>;

// Field accessors for the results, named as in the XML.
inline const std::string& fingerprint_of(const BusResult& r) {
    return r.get<1>();
}
inline bool accepted_of(const BusResult& r) {
    return r.get<2>();
}
inline int32_t serial_of(const BusResult& r) {
    return r.get<3>();
}
inline const std::vector<BusCheck>& checks_of(const BusResult& r) {
    return r.get<4>();
}
inline bool kernel_accepted_of(const BusResult& r) {
    return r.get<5>().get<0>();
}
inline const std::string& kernel_errno_of(const BusResult& r) {
    return r.get<5>().get<1>();
}

inline std::string read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const fs::path& file, const Bytes& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
}

inline void pause_briefly() {
    timespec ts{0, 20'000'000};  // 20 ms between two looks at something awaited
    ::nanosleep(&ts, nullptr);
}

// Polls `done` until it holds or kTimeout passes.
inline bool eventually(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        pause_briefly();
    }
    return done();
}

// The error name a call fails with, "" when it succeeds.
inline std::string error_name_of(const std::function<void()>& call,
                                 std::string* message = nullptr) {
    try {
        call();
    } catch (const sdbus::Error& e) {
        if (message) *message = e.getMessage();
        return e.getName();
    }
    return "";
}

// A SOCK_DGRAM socket standing in for the service manager's NOTIFY_SOCKET.
class NotifySocket {
  public:
    explicit NotifySocket(fs::path path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("cannot bind " + path_.string() + ": " + std::strerror(errno));
        }
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;
    ~NotifySocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    const fs::path& path() const { return path_; }

    // Waits (bounded) for a datagram holding the line `wanted`; every
    // datagram read is kept in `seen`.
    bool wait_for(const std::string& wanted) {
        auto has = [&] {
            for (const auto& d : seen_) {
                std::istringstream lines(d);
                for (std::string line; std::getline(lines, line);) {
                    if (line == wanted) return true;
                }
            }
            return false;
        };
        auto deadline = std::chrono::steady_clock::now() + kTimeout;
        while (!has()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) seen_.emplace_back(buf, static_cast<std::size_t>(n));
        }
        return true;
    }
    const std::vector<std::string>& seen() const { return seen_; }

    // Reads what is queued without waiting. The kernel queues only a few
    // datagrams per socket (net.unix.max_dgram_qlen), and sd_notify blocks
    // when the queue is full, as it would with a stuck service manager.
    void drain() {
        char buf[4096];
        for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;)
            seen_.emplace_back(buf, static_cast<std::size_t>(n));
    }

  private:
    fs::path path_;
    int fd_ = -1;
    std::vector<std::string> seen_;
};

// What the harness writes into the daemon's drop-in and anchors folders.
struct Pki {
    Chain chain = make_chain();
    // Self-signed, signing-shaped, vouched for by nobody.
    TestCert rogue = make_self_signed(signing_spec("anchord rogue"));
};

class AnchordTest : public ::testing::Test {
  protected:
    void SetUp() override {
        session_ = keyctl_join_session_keyring(nullptr);
        ASSERT_GT(session_, 0) << "keyctl_join_session_keyring: " << std::strerror(errno);
        char templ[] = "/tmp/anchord-daemon-test.XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        dir_ = templ;
        fs::create_directories(anchors_dir());
        fs::create_directories(dropin_dir());
        write_bytes(anchors_dir() / "root.der", pki_.chain.root.der);
        write_text(policy_file(), std::string(default_policy_text()));
        write_text(dir_ / "anchord.conf", "");
        notify_ = std::make_unique<NotifySocket>(dir_ / "notify");
        bus_ = std::make_unique<PrivateBus>();
    }

    void TearDown() override {
        if (pid_ > 0) {
            int status = stop_daemon();
            EXPECT_EQ(status, 0) << "anchord did not exit 0 on SIGTERM";
        }
        if (HasFailure()) {
            std::cerr << "----- anchord's log (" << log_file() << ") -----\n"
                      << read_text(log_file()) << "----- end of anchord's log -----\n";
        }
        manager_.reset();
        connection_.reset();
        bus_.reset();
        notify_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path anchors_dir() const { return dir_ / "anchors"; }
    fs::path dropin_dir() const { return dir_ / "dropin"; }
    fs::path state_dir() const { return dir_ / "state"; }
    fs::path state_file() const { return state_dir() / "state.json"; }
    fs::path state_journal() const { return state_dir() / "state.journal"; }
    // Both files of the state as they are on disk: equal before and after
    // means that nothing was written.
    std::string state_text() const {
        return read_text(state_file()) + "\n---- journal ----\n" + read_text(state_journal());
    }
    fs::path policy_file() const { return dir_ / "policy.json"; }
    fs::path log_file() const { return dir_ / "anchord.log"; }
    static fs::path anchord_binary() { return fs::path(ANCHORD_BINARY_DIR) / "daemon" / "anchord"; }

    std::vector<std::string> daemon_args() const {
        return {anchord_binary().string(),
                "--config",
                (dir_ / "anchord.conf").string(),
                "--policy",
                policy_file().string(),
                "--state-dir",
                state_dir().string(),
                "--dropin-dir",
                dropin_dir().string(),
                "--sandbox",
                anchors_dir().string(),
                "--bus-address",
                bus_->address()};
    }

    std::vector<std::string> extra_args_;  // appended to daemon_args()
    std::vector<std::string> extra_env_;   // "NAME=value" for the child

    // Forks and execs anchord; stdout and stderr go to the log.
    void spawn() {
        auto args = daemon_args();
        args.insert(args.end(), extra_args_.begin(), extra_args_.end());
        auto env = extra_env_;
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::string notify_env = "NOTIFY_SOCKET=" + notify_->path().string();
        int log = ::open(log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        ASSERT_GE(log, 0);
        std::string banner = "===== anchord start " + std::to_string(++starts_) + " =====\n";
        ASSERT_EQ(::write(log, banner.data(), banner.size()), static_cast<ssize_t>(banner.size()));
        pid_t parent = ::getpid();
        pid_ = ::fork();
        ASSERT_GE(pid_, 0);
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::dup2(log, STDOUT_FILENO);
            ::dup2(log, STDERR_FILENO);
            ::putenv(notify_env.data());
            for (auto& e : env) ::putenv(e.data());
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(log);
    }

    // Starts anchord and waits until it owns its bus name.
    ::testing::AssertionResult start_daemon() {
        spawn();
        if (pid_ <= 0) return ::testing::AssertionFailure() << "fork failed";
        if (!connection_)
            connection_ = sdbus::createSessionBusConnectionWithAddress(bus_->address());
        auto driver =
            sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        bool owned = false;
        std::optional<int> exited;
        eventually([&] {
            notify_->drain();
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited = status;
                pid_ = -1;
                return true;
            }
            driver->callMethod("NameHasOwner")
                .onInterface("org.freedesktop.DBus")
                .withArguments(std::string(kBusName))
                .storeResultsTo(owned);
            return owned;
        });
        if (exited) {
            return ::testing::AssertionFailure()
                   << "anchord exited before owning its name (status " << *exited << ")";
        }
        if (!owned) return ::testing::AssertionFailure() << "anchord did not own its name in time";
        manager_ = sdbus::createProxy(*connection_, kBusName, kManagerPath);
        return ::testing::AssertionSuccess();
    }

    // Waits (bounded) for the child to exit; its exit code, or -1 when it
    // did not exit normally in time (then it is killed).
    int wait_exit() {
        int status = 0;
        bool done = eventually([&] {
            notify_->drain();
            return ::waitpid(pid_, &status, WNOHANG) == pid_;
        });
        if (!done) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            return -1;
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    int stop_daemon() {
        manager_.reset();
        if (pid_ <= 0) return -1;
        ::kill(pid_, SIGTERM);
        return wait_exit();
    }

    // Runs anchord expecting it to refuse to start; its exit code.
    int run_to_exit() {
        spawn();
        return wait_exit();
    }

    // A new, empty session keyring: as after a reboot, the keyrings are empty.
    void new_session_keyring() {
        session_ = keyctl_join_session_keyring(nullptr);
        ASSERT_GT(session_, 0);
    }

    // --- calls --------------------------------------------------------------
    std::vector<BusResult> verify(const Bytes& bundle, const std::string& keyring) {
        std::vector<BusResult> results;
        manager_->callMethod("Verify")
            .onInterface(kManagerInterface)
            .withArguments(bundle, keyring)
            .storeResultsTo(results);
        return results;
    }

    std::vector<BusResult> enroll(const Bytes& bundle, const std::string& keyring,
                                  bool partial = false) {
        std::map<std::string, sdbus::Variant> options;
        if (partial) options.emplace(bus_api::kPartialOption, sdbus::Variant(true));
        return enroll(bundle, keyring, options);
    }

    std::vector<BusResult> enroll(const Bytes& bundle, const std::string& keyring,
                                  const std::map<std::string, sdbus::Variant>& options) {
        std::vector<BusResult> results;
        manager_->callMethod("Enroll")
            .onInterface(kManagerInterface)
            .withArguments(bundle, keyring, options)
            .storeResultsTo(results);
        return results;
    }

    template <typename T>
    T manager_property(const std::string& name) {
        return manager_->getProperty(name).onInterface(kManagerInterface).get<T>();
    }

    template <typename T>
    T keyring_property(const std::string& keyring, const std::string& name) {
        auto proxy =
            sdbus::createProxy(*connection_, kBusName, std::string(kKeyringPathPrefix) + keyring);
        return proxy->getProperty(name).onInterface(kKeyringInterface).get<T>();
    }

    std::vector<BusKey> keys(const std::string& keyring) {
        return keyring_property<std::vector<BusKey>>(keyring, "Keys");
    }

    // The fingerprints a keyring holds with the given origin.
    std::set<std::string> fingerprints(const std::string& keyring,
                                       const std::string& origin = "anchord") {
        std::set<std::string> out;
        for (const auto& k : keys(keyring)) {
            if (k.get<3>() == origin) out.insert(k.get<2>());
        }
        return out;
    }

    // The kernel keyring behind a logical one, read with keyutils.
    std::vector<key_serial_t> kernel_keys(const std::string& keyring) {
        return ring_serials(keyring_property<int32_t>(keyring, "Serial"));
    }

    static std::string fp(const TestCert& cert) {
        return Fingerprint::of_der(cert.der).to_string();
    }

    static Bytes bundle_of(std::initializer_list<const TestCert*> certs) {
        Bytes out;
        for (const auto* c : certs) {
            auto pem = c->pem_bytes();
            out.insert(out.end(), pem.begin(), pem.end());
        }
        return out;
    }

    Pki pki_;
    fs::path dir_;
    key_serial_t session_ = 0;
    std::unique_ptr<NotifySocket> notify_;
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
    pid_t pid_ = -1;
    int starts_ = 0;
};

// --- forked callers ------------------------------------------------------------

// What a forked caller did: its exit code (-1 when it did not exit normally
// or was killed at the deadline) and everything it wrote to its pipe.
struct CallerOutcome {
    int exit_code = -1;
    std::string output;
};

inline void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

// Runs each body in a child process of its own, all at once, and collects
// what they write to the pipe they are given until every one has exited.
// A body makes its own bus connection (an sd-bus connection must not cross
// fork) and returns its exit code; an exception is exit code 99. Children
// still running at `deadline` are killed.
inline std::vector<CallerOutcome> run_callers(const std::vector<std::function<int(int)>>& bodies,
                                              std::chrono::seconds deadline = kTimeout * 10) {
    struct Running {
        pid_t pid = -1;
        int fd = -1;
    };
    std::vector<Running> running(bodies.size());
    std::vector<CallerOutcome> outcomes(bodies.size());
    const pid_t parent = ::getpid();
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) break;
        pid_t pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
            ::close(pipe_fds[0]);
            int code = 99;
            try {
                code = bodies[i](pipe_fds[1]);
            } catch (...) {
            }
            ::_exit(code);
        }
        ::close(pipe_fds[1]);
        if (pid < 0) {
            ::close(pipe_fds[0]);
            break;
        }
        running[i] = {pid, pipe_fds[0]};
    }
    const auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> owners;
        for (std::size_t i = 0; i < running.size(); ++i) {
            if (running[i].fd < 0) continue;
            fds.push_back({running[i].fd, POLLIN, 0});
            owners.push_back(i);
        }
        if (fds.empty()) break;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR)
            break;
        for (std::size_t j = 0; j < fds.size(); ++j) {
            if (fds[j].revents == 0) continue;
            auto& r = running[owners[j]];
            char buf[65536];
            ssize_t n = ::read(r.fd, buf, sizeof buf);
            if (n > 0) {
                outcomes[owners[j]].output.append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(r.fd);
                r.fd = -1;
            }
        }
    }
    for (std::size_t i = 0; i < running.size(); ++i) {
        auto& r = running[i];
        if (r.fd >= 0) ::close(r.fd);
        if (r.pid <= 0) continue;
        int status = 0;
        bool exited = eventually([&] { return ::waitpid(r.pid, &status, WNOHANG) == r.pid; });
        if (!exited) {
            ::kill(r.pid, SIGKILL);
            ::waitpid(r.pid, &status, 0);
            continue;
        }
        if (WIFEXITED(status)) outcomes[i].exit_code = WEXITSTATUS(status);
    }
    return outcomes;
}

// Drops every privilege a caller might have: nobody, with no groups.
inline bool become_nobody() {
    return ::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
           ::setresuid(65534, 65534, 65534) == 0;
}

}  // namespace anchord::testing
