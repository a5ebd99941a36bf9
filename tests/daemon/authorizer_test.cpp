// The authorizer on a real dbus-daemon: the uid comes from the bus, polkit
// decides when it is there (a fake authority of the test's own stands in for
// it), only root passes when it is not, and every doubt denies. Unprivileged
// callers are real processes that switched uid before connecting.
#include "auth/authorizer.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "anchord/sdbus.hpp"
#include "dbus_daemon.hpp"

namespace anchord::auth {
namespace {

constexpr const char* kServiceName = "io.github.anchord1.AuthTest";
constexpr const char* kObjectPath = "/io/github/anchord1/AuthTest";
constexpr const char* kInterface = "io.github.anchord1.AuthTest";
constexpr const char* kAccessDenied = "io.github.anchord1.Error.AccessDenied";
constexpr uid_t kNobody = 65534;

// A tiny bus object whose methods identify the caller and check an action,
// as anchord's own handlers do. Each answers (uid, allow_interactive).
//   Whoami           identify only
//   Enroll, Remove   identify + check, on the event-loop thread
//   EnrollInWorker   identify + check on a worker thread while the loop runs
class AuthServer {
  public:
    explicit AuthServer(const std::string& address)
        : conn_(sdbus::createSessionBusConnectionWithAddress(address)), auth_(*conn_) {
        conn_->requestName(kServiceName);
        object_ = sdbus::createObject(*conn_, kObjectPath);
        object_->registerMethod(kInterface, "Whoami", "", "ub",
                                [this](sdbus::MethodCall call) { answer(call, std::nullopt); });
        object_->registerMethod(kInterface, "Enroll", "", "ub",
                                [this](sdbus::MethodCall call) { answer(call, Action::Enroll); });
        object_->registerMethod(kInterface, "Remove", "", "ub",
                                [this](sdbus::MethodCall call) { answer(call, Action::Remove); });
        object_->registerMethod(
            kInterface, "EnrollInWorker", "", "ub", [this](sdbus::MethodCall call) {
                std::lock_guard lock(mutex_);
                workers_.emplace_back([this, call]() mutable { answer(call, Action::Enroll); });
            });
        object_->finishRegistration();
        conn_->enterEventLoopAsync();
    }

    ~AuthServer() {
        // Workers wait on replies the loop delivers: join them first.
        std::vector<std::thread> workers;
        {
            std::lock_guard lock(mutex_);
            workers.swap(workers_);
        }
        for (auto& t : workers) t.join();
        conn_->leaveEventLoop();
    }

  private:
    void answer(sdbus::MethodCall& call, std::optional<Action> action) {
        try {
            Caller caller = auth_.identify(call);
            if (action) auth_.check(caller, *action);
            auto reply = call.createReply();
            reply << caller.uid << caller.allow_interactive;
            reply.send();
        } catch (const Error& e) {
            // sdbus-c++ turns only sdbus::Error into an error reply.
            call.createErrorReply(sdbus::Error(dbus_error_name(e.code()), e.what())).send();
        }
    }

    std::unique_ptr<sdbus::IConnection> conn_;
    Authorizer auth_;
    std::unique_ptr<sdbus::IObject> object_;
    std::mutex mutex_;
    std::vector<std::thread> workers_;
};

// A stand-in for polkitd on the private bus: answers CheckAuthorization from
// a table and records what it was asked.
class FakePolkit {
  public:
    struct Question {
        std::string subject_kind;
        std::string subject_name;
        std::string action_id;
        std::uint32_t flags = 0;
    };
    struct Answer {
        bool authorized = false;
        bool challenge = false;
    };

    explicit FakePolkit(const std::string& address)
        : conn_(sdbus::createSessionBusConnectionWithAddress(address)) {
        conn_->requestName(std::string(kPolkitBusName));
        object_ = sdbus::createObject(*conn_, "/org/freedesktop/PolicyKit1/Authority");
        object_->registerMethod("org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                                "(sa{sv})sa{ss}us", "(bba{ss})",
                                [this](sdbus::MethodCall call) { check(call); });
        object_->finishRegistration();
        conn_->enterEventLoopAsync();
    }
    ~FakePolkit() { conn_->leaveEventLoop(); }

    void set(Action action, Answer answer) {
        std::lock_guard lock(mutex_);
        answers_[std::string(action_id(action))] = answer;
    }
    void fail_with(std::string error_name) {
        std::lock_guard lock(mutex_);
        error_ = std::move(error_name);
    }
    std::vector<Question> questions() {
        std::lock_guard lock(mutex_);
        return questions_;
    }

  private:
    void check(sdbus::MethodCall& call) {
        sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>> subject;
        std::string action;
        std::map<std::string, std::string> details;
        std::uint32_t flags = 0;
        std::string cancellation;
        call >> subject >> action >> details >> flags >> cancellation;

        Question q;
        q.subject_kind = std::get<0>(subject);
        auto it = std::get<1>(subject).find("name");
        if (it != std::get<1>(subject).end()) q.subject_name = it->second.get<std::string>();
        q.action_id = action;
        q.flags = flags;

        std::lock_guard lock(mutex_);
        questions_.push_back(q);
        if (!error_.empty()) throw sdbus::Error(error_, "the fake authority fails on purpose");
        Answer a = answers_.count(action) ? answers_[action] : Answer{};
        auto reply = call.createReply();
        reply << sdbus::Struct<bool, bool, std::map<std::string, std::string>>(
            a.authorized, a.challenge, std::map<std::string, std::string>{});
        reply.send();
    }

    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<sdbus::IObject> object_;
    std::mutex mutex_;
    std::map<std::string, Answer> answers_;
    std::string error_;
    std::vector<Question> questions_;
};

// ---------------------------------------------------------------------------
// Processes running as another uid

template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};
using BusPtr = std::unique_ptr<sd_bus, Deleter<sd_bus_flush_close_unref>>;
using BusMessagePtr = std::unique_ptr<sd_bus_message, Deleter<sd_bus_message_unref>>;

struct SdBusError {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    ~SdBusError() { sd_bus_error_free(&error); }
};

// Runs `body` in a child process that has become `uid` (all ids, no
// supplementary groups); the child's last words, written to the pipe, are
// returned. Bounded: a hung child is killed.
std::string run_as(uid_t uid, const std::function<std::string()>& body) {
    int p[2];
    if (::pipe(p) != 0) return std::string("FAIL pipe: ") + std::strerror(errno);
    pid_t child = ::fork();
    if (child < 0) return std::string("FAIL fork: ") + std::strerror(errno);
    if (child == 0) {
        ::close(p[0]);
        std::string words;
        if (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 ||
            ::setresuid(uid, uid, uid) != 0) {
            words = std::string("FAIL setresuid: ") + std::strerror(errno);
        } else {
            words = body();
        }
        ssize_t ignored = ::write(p[1], words.data(), words.size());
        (void)ignored;
        ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            ::kill(child, SIGKILL);
            out = "FAIL the child did not finish";
            break;
        }
        pollfd pfd{p[0], POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[1024];
        ssize_t n = ::read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(p[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (out.empty()) {
        out = "FAIL the child said nothing (wait status " + std::to_string(status) + ")";
    }
    return out;
}

BusPtr connect(const std::string& address, std::string& error) {
    sd_bus* raw = nullptr;
    if (int r = sd_bus_new(&raw); r < 0) {
        error = std::string("sd_bus_new: ") + std::strerror(-r);
        return nullptr;
    }
    BusPtr bus(raw);
    int r = sd_bus_set_address(bus.get(), address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus.get(), 1);
    if (r >= 0) r = sd_bus_start(bus.get());
    if (r < 0) {
        error = std::string("connect: ") + std::strerror(-r);
        return nullptr;
    }
    return bus;
}

struct Outcome {
    std::string error;    // D-Bus error name; "" on success
    std::string message;  // the error's message, for diagnostics
    std::string sender;   // the caller's unique name
    std::uint32_t uid = 0;
    bool interactive = false;
};

// Calls `method` on the test object as `uid`, from a fresh process.
Outcome call_as(uid_t uid, const std::string& address, const char* method, bool interactive) {
    std::string words = run_as(uid, [&]() -> std::string {
        std::string error;
        BusPtr bus = connect(address, error);
        if (!bus) return "FAIL " + error;
        const char* unique = nullptr;
        if (int r = sd_bus_get_unique_name(bus.get(), &unique); r < 0 || unique == nullptr) {
            return std::string("FAIL no unique name: ") + std::strerror(-r);
        }
        sd_bus_message* raw = nullptr;
        if (sd_bus_message_new_method_call(bus.get(), &raw, kServiceName, kObjectPath, kInterface,
                                           method) < 0) {
            return "FAIL new_method_call";
        }
        BusMessagePtr call(raw);
        sd_bus_message_set_allow_interactive_authorization(call.get(), interactive);
        SdBusError err;
        sd_bus_message* reply_raw = nullptr;
        int r = sd_bus_call(bus.get(), call.get(), 60'000'000, &err.error, &reply_raw);
        BusMessagePtr reply(reply_raw);
        if (r < 0) {
            return std::string("ERR ") + unique + " " + (err.error.name ? err.error.name : "none") +
                   " " + (err.error.message ? err.error.message : "");
        }
        std::uint32_t u = 0;
        int b = 0;
        if (sd_bus_message_read(reply.get(), "ub", &u, &b) < 0) return "FAIL reading the reply";
        return std::string("OK ") + unique + " " + std::to_string(u) + " " + std::to_string(b);
    });
    std::istringstream in(words);
    std::string kind;
    in >> kind;
    Outcome o;
    if (kind == "OK") {
        int b = 0;
        in >> o.sender >> o.uid >> b;
        o.interactive = b != 0;
    } else if (kind == "ERR") {
        in >> o.sender >> o.error;
        std::getline(in >> std::ws, o.message);
    } else {
        ADD_FAILURE() << "the caller process failed: " << words;
        o.error = "(caller failed)";
    }
    return o;
}

class AuthorizerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to run callers as other uids";
        bus_ = std::make_unique<testing::PrivateBus>();
    }
    void TearDown() override {
        server_.reset();
        polkit_.reset();
        bus_.reset();
    }

    void start_server() { server_ = std::make_unique<AuthServer>(bus_->address()); }
    void start_polkit() { polkit_ = std::make_unique<FakePolkit>(bus_->address()); }

    // A call from this (root) process.
    Outcome call_as_root(const char* method) {
        auto proxy =
            sdbus::createProxy(sdbus::createSessionBusConnectionWithAddress(bus_->address()),
                               kServiceName, kObjectPath);
        Outcome o;
        try {
            proxy->callMethod(method).onInterface(kInterface).storeResultsTo(o.uid, o.interactive);
        } catch (const sdbus::Error& e) {
            o.error = e.getName();
        }
        return o;
    }

    std::unique_ptr<testing::PrivateBus> bus_;
    std::unique_ptr<FakePolkit> polkit_;
    std::unique_ptr<AuthServer> server_;
};

TEST(AuthorizerActions, PolkitActionIds) {
    EXPECT_EQ(action_id(Action::Enroll), "io.github.anchord1.enroll");
    EXPECT_EQ(action_id(Action::Remove), "io.github.anchord1.remove");
    EXPECT_EQ(action_id(Action::Seal), "io.github.anchord1.seal");
    EXPECT_EQ(action_id(Action::Reconcile), "io.github.anchord1.reconcile");
    EXPECT_EQ(action_id(Action::ReloadPolicy), "io.github.anchord1.reload-policy");
}

TEST_F(AuthorizerTest, WithoutPolkitRootIsAllowed) {
    start_server();
    Outcome o = call_as_root("Enroll");
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(o.uid, 0u);
}

TEST_F(AuthorizerTest, WithoutPolkitOthersAreDenied) {
    start_server();
    Outcome o = call_as(kNobody, bus_->address(), "Enroll", false);
    EXPECT_EQ(o.error, kAccessDenied) << o.message;
    // Asking for interaction changes nothing when there is no one to ask.
    o = call_as(kNobody, bus_->address(), "Remove", true);
    EXPECT_EQ(o.error, kAccessDenied) << o.message;
}

TEST_F(AuthorizerTest, TheUidAndTheInteractiveFlagComeFromTheBus) {
    start_server();
    Outcome o = call_as(kNobody, bus_->address(), "Whoami", false);
    ASSERT_EQ(o.error, "");
    EXPECT_EQ(o.uid, kNobody);
    EXPECT_FALSE(o.interactive);

    // A second uid, to show it is not a constant. dbus-daemon refuses uids
    // without a passwd entry, so take an account every Debian system has.
    const passwd* daemon_user = ::getpwnam("daemon");
    ASSERT_NE(daemon_user, nullptr) << "no 'daemon' account";
    uid_t other = daemon_user->pw_uid;
    ASSERT_NE(other, kNobody);
    o = call_as(other, bus_->address(), "Whoami", true);
    ASSERT_EQ(o.error, "");
    EXPECT_EQ(o.uid, other);
    EXPECT_TRUE(o.interactive);
}

// With polkit on the bus it decides, per action, and is asked about the
// caller's bus name (the sync calls run inside a handler on the loop thread).
TEST_F(AuthorizerTest, PolkitDecides) {
    start_polkit();
    polkit_->set(Action::Enroll, {true, false});
    polkit_->set(Action::Remove, {false, false});
    start_server();

    Outcome allowed = call_as(kNobody, bus_->address(), "Enroll", false);
    EXPECT_EQ(allowed.error, "");
    EXPECT_EQ(allowed.uid, kNobody);
    Outcome denied = call_as(kNobody, bus_->address(), "Remove", true);
    EXPECT_EQ(denied.error, kAccessDenied) << denied.message;

    auto qs = polkit_->questions();
    ASSERT_EQ(qs.size(), 2u);
    EXPECT_EQ(qs[0].subject_kind, "system-bus-name");
    EXPECT_EQ(qs[0].subject_name, allowed.sender);
    EXPECT_EQ(qs[0].action_id, "io.github.anchord1.enroll");
    EXPECT_EQ(qs[0].flags, 0u);
    EXPECT_EQ(qs[1].subject_name, denied.sender);
    EXPECT_EQ(qs[1].action_id, "io.github.anchord1.remove");
    EXPECT_EQ(qs[1].flags, 1u);  // AllowUserInteraction, because the call allowed it
}

TEST_F(AuthorizerTest, PolkitChallengeIsADenial) {
    start_polkit();
    polkit_->set(Action::Enroll, {false, true});
    start_server();
    Outcome refused = call_as(kNobody, bus_->address(), "Enroll", false);
    EXPECT_EQ(refused.error, kAccessDenied) << refused.message;
}

TEST_F(AuthorizerTest, PolkitErrorsFailClosed) {
    start_polkit();
    polkit_->set(Action::Enroll, {true, false});
    polkit_->fail_with("org.freedesktop.PolicyKit1.Error.Failed");
    start_server();
    Outcome refused = call_as(kNobody, bus_->address(), "Enroll", false);
    EXPECT_EQ(refused.error, kAccessDenied) << refused.message;
    EXPECT_EQ(polkit_->questions().size(), 1u);
}

TEST_F(AuthorizerTest, RootIsNotAskedAbout) {
    start_polkit();  // answers no to everything
    start_server();
    Outcome o = call_as_root("Remove");
    EXPECT_EQ(o.error, "");
    EXPECT_TRUE(polkit_->questions().empty());
}

// An Async handler's worker thread can make the same synchronous calls while
// the event loop runs in its own thread.
TEST_F(AuthorizerTest, ChecksWorkFromAWorkerThread) {
    start_polkit();
    polkit_->set(Action::Enroll, {true, false});
    start_server();
    Outcome o = call_as(kNobody, bus_->address(), "EnrollInWorker", false);
    EXPECT_EQ(o.error, "");
    EXPECT_EQ(o.uid, kNobody);
    ASSERT_EQ(polkit_->questions().size(), 1u);

    polkit_->set(Action::Enroll, {false, false});
    Outcome refused = call_as(kNobody, bus_->address(), "EnrollInWorker", false);
    EXPECT_EQ(refused.error, kAccessDenied) << refused.message;
}

// Anyone may own org.freedesktop.PolicyKit1 on a bus without policy: an
// owner that is not root is not believed, even when it says yes.
TEST_F(AuthorizerTest, APolkitNotRunningAsRootIsNotTrusted) {
    int ready[2], hold[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(hold), 0);
    // Forked before this process starts any bus thread.
    pid_t impostor = ::fork();
    ASSERT_GE(impostor, 0);
    if (impostor == 0) {
        ::close(ready[0]);
        ::close(hold[1]);
        if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
            ::setresuid(kNobody, kNobody, kNobody) != 0) {
            ::_exit(1);
        }
        try {
            FakePolkit impostor_polkit(bus_->address());
            impostor_polkit.set(Action::Enroll, {true, false});
            ssize_t ignored = ::write(ready[1], "r", 1);
            (void)ignored;
            char c;
            while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
            }
        } catch (...) {
        }
        ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    char c = 0;
    pollfd pfd{ready[0], POLLIN, 0};
    bool owned = ::poll(&pfd, 1, 60000) == 1 && ::read(ready[0], &c, 1) == 1;

    Outcome o;
    if (owned) {
        start_server();
        o = call_as(kNobody, bus_->address(), "Enroll", false);
    }
    ::close(hold[1]);
    ::close(ready[0]);
    ::waitpid(impostor, nullptr, 0);
    ASSERT_TRUE(owned) << "the impostor could not take the polkit name";
    EXPECT_EQ(o.error, kAccessDenied) << o.message;
}

}  // namespace
}  // namespace anchord::auth
